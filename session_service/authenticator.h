// Login: turns the credential of a Login message into the grant a session is
// given (player, role, permissions), or the machine-readable reason it is not.
#ifndef SESSION_SERVICE_AUTHENTICATOR_H_
#define SESSION_SERVICE_AUTHENTICATOR_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/multi_session_manager.h"
#include "session_service/refusals.h"

namespace gss {

struct AuthResult {
  std::optional<PlayerGrant> grant;  // Set on success.
  // On failure: kBadCredential, kTokenExpired, kBadSignature or
  // kBadAlgorithm (it travels in LoginRejected.reason).
  LoginRefusal reason = LoginRefusal::kBadCredential;
  std::string detail;  // For people; never contains secrets.

  static AuthResult Granted(PlayerGrant grant);
  static AuthResult Refused(LoginRefusal reason, std::string detail);
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  virtual absl::string_view name() const = 0;
  // Thread-safe. `now` is the host's clock, so expiry is testable.
  virtual AuthResult Authenticate(absl::string_view credential,
                                  absl::Time now) const = 0;
};

// For local runs and tests: the credential is the player name (1 to 64
// printable ASCII characters), which becomes player id and display name; role
// "player" with every permission.
class DevAuthenticator final : public Authenticator {
 public:
  absl::string_view name() const override { return "dev"; }
  AuthResult Authenticate(absl::string_view credential,
                          absl::Time now) const override;
};

// HS256 JSON Web Tokens, verified with libjwt. Claims: `sub` (player id,
// required), `exp` (required), `nbf` (optional), `name` (display name; default
// the subject), `role` (default "player"), `permissions` (array of strings;
// "move", "shoot"; names this server does not know are ignored so issuers can
// grant permissions a newer server understands; absent means none).
class JwtAuthenticator final : public Authenticator {
 public:
  // RFC 7518 3.2: an HS256 key must have at least 256 bits.
  static constexpr size_t kMinKeyBytes = 32;
  // Longer credentials are refused before any parsing.
  static constexpr size_t kMaxTokenBytes = 8192;

  static absl::StatusOr<std::unique_ptr<JwtAuthenticator>> Create(
      std::string key);
  // Reads the key from a file; trailing whitespace (a final newline) is not
  // part of the key.
  static absl::StatusOr<std::unique_ptr<JwtAuthenticator>> FromKeyFile(
      const std::string& path);

  absl::string_view name() const override { return "jwt"; }
  AuthResult Authenticate(absl::string_view credential,
                          absl::Time now) const override;

 private:
  explicit JwtAuthenticator(std::string key) : key_(std::move(key)) {}
  const std::string key_;
};

// "dev" or "jwt" (which needs `jwt_key_file`).
absl::StatusOr<std::unique_ptr<Authenticator>> MakeAuthenticator(
    absl::string_view kind, const std::string& jwt_key_file);

}  // namespace gss

#endif  // SESSION_SERVICE_AUTHENTICATOR_H_
