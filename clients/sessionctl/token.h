// Login tokens for the session service's `jwt` authenticator: HS256 JWTs
// signed with the key file the service reads, minted without any network.
#ifndef CLIENTS_SESSIONCTL_TOKEN_H_
#define CLIENTS_SESSIONCTL_TOKEN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace gss::sessionctl {

// The service's rule (RFC 7518 3.2): an HS256 key has at least 256 bits.
inline constexpr size_t kMinKeyBytes = 32;

struct TokenClaims {
  std::string player;  // sub
  std::string name;    // Omitted when empty.
  std::string role;    // Omitted when empty.
  std::vector<std::string> permissions;
  absl::Time expires;  // exp, whole seconds.
  absl::Time issued;   // iat, whole seconds.
};

// Reads a key as the service does: trailing whitespace (a final newline) is
// not part of the key; fewer than kMinKeyBytes bytes are refused.
absl::StatusOr<std::string> ReadKeyFile(const std::string& path);

// A compact HS256 JWS carrying `claims`.
absl::StatusOr<std::string> MintToken(const TokenClaims& claims,
                                      const std::string& key);

}  // namespace gss::sessionctl

#endif  // CLIENTS_SESSIONCTL_TOKEN_H_
