// Test helper: HS256/HS512/none tokens minted with libjwt itself, so the
// tests exercise the same library the service verifies with.
#ifndef SESSION_SERVICE_TEST_JWT_H_
#define SESSION_SERVICE_TEST_JWT_H_

#include <jwt.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"

namespace gss::testing {

struct TokenClaims {
  std::optional<std::string> sub = "player-1";
  std::optional<std::string> name = "Player One";
  std::optional<std::string> role = "player";
  // Written as a JSON array of strings; nullopt leaves the claim out.
  std::optional<std::vector<std::string>> permissions =
      std::vector<std::string>{"move", "shoot"};
  std::optional<absl::Time> exp;
  std::optional<absl::Time> nbf;
  std::string extra_json;  // More claims as a JSON object, e.g. "{...}".
};

inline std::string MintToken(jwt_alg_t alg, const std::string& key,
                             const TokenClaims& claims) {
  jwt_t* jwt = nullptr;
  if (jwt_new(&jwt) != 0) return "";
  if (claims.sub) jwt_add_grant(jwt, "sub", claims.sub->c_str());
  if (claims.name) jwt_add_grant(jwt, "name", claims.name->c_str());
  if (claims.role) jwt_add_grant(jwt, "role", claims.role->c_str());
  if (claims.exp)
    jwt_add_grant_int(jwt, "exp", absl::ToUnixSeconds(*claims.exp));
  if (claims.nbf)
    jwt_add_grant_int(jwt, "nbf", absl::ToUnixSeconds(*claims.nbf));
  if (claims.permissions) {
    std::vector<std::string> quoted;
    for (const std::string& p : *claims.permissions) {
      quoted.push_back(absl::StrCat("\"", p, "\""));
    }
    const std::string json =
        absl::StrCat("{\"permissions\":[", absl::StrJoin(quoted, ","), "]}");
    jwt_add_grants_json(jwt, json.c_str());
  }
  if (!claims.extra_json.empty()) {
    jwt_add_grants_json(jwt, claims.extra_json.c_str());
  }
  if (alg == JWT_ALG_NONE) {
    jwt_set_alg(jwt, JWT_ALG_NONE, nullptr, 0);
  } else {
    jwt_set_alg(jwt, alg, reinterpret_cast<const unsigned char*>(key.data()),
                static_cast<int>(key.size()));
  }
  char* encoded = jwt_encode_str(jwt);
  std::string token = encoded != nullptr ? encoded : "";
  std::free(encoded);
  jwt_free(jwt);
  return token;
}

}  // namespace gss::testing

#endif  // SESSION_SERVICE_TEST_JWT_H_
