#include "session_service/authenticator.h"

#include <jwt.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace gss {
namespace {

// Player ids are indexed by the manager, which takes at most 128 bytes.
constexpr size_t kMaxClaimBytes = 128;
constexpr size_t kMaxDevNameBytes = 64;

struct JwtDeleter {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtDeleter>;

struct FreeDeleter {
  void operator()(char* text) const { std::free(text); }
};
using MallocString = std::unique_ptr<char, FreeDeleter>;

JwtPtr Decode(const std::string& token, const std::string* key) {
  jwt_t* jwt = nullptr;
  const int rc =
      key == nullptr
          ? jwt_decode(&jwt, token.c_str(), nullptr, 0)
          : jwt_decode(&jwt, token.c_str(),
                       reinterpret_cast<const unsigned char*>(key->data()),
                       static_cast<int>(key->size()));
  if (rc != 0) {
    jwt_free(jwt);
    return nullptr;
  }
  return JwtPtr(jwt);
}

// The claim as JSON text, or nullopt when absent.
std::optional<std::string> ClaimJson(jwt_t* jwt, const char* claim) {
  MallocString json(jwt_get_grants_json(jwt, claim));
  if (json == nullptr) return std::nullopt;
  return std::string(json.get());
}

// A NumericDate claim (RFC 7519: seconds, possibly fractional).
std::optional<absl::Time> TimeClaim(jwt_t* jwt, const char* claim,
                                    bool* malformed) {
  std::optional<std::string> json = ClaimJson(jwt, claim);
  if (!json) return std::nullopt;
  double seconds = 0;
  if (!absl::SimpleAtod(*json, &seconds) || !(seconds == seconds)) {
    *malformed = true;
    return std::nullopt;
  }
  return absl::UnixEpoch() + absl::Seconds(seconds);
}

bool IsPrintableAscii(absl::string_view text) {
  for (char c : text) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

AuthResult AuthResult::Granted(PlayerGrant grant) {
  AuthResult result;
  result.grant = std::move(grant);
  return result;
}

AuthResult AuthResult::Refused(LoginRefusal reason, std::string detail) {
  AuthResult result;
  result.reason = reason;
  result.detail = std::move(detail);
  return result;
}

AuthResult DevAuthenticator::Authenticate(absl::string_view credential,
                                          absl::Time) const {
  if (credential.empty() || credential.size() > kMaxDevNameBytes ||
      !IsPrintableAscii(credential)) {
    return AuthResult::Refused(
        LoginRefusal::kBadCredential,
        "the dev authenticator takes a player name of 1 to 64 printable "
        "ASCII characters");
  }
  PlayerGrant grant;
  grant.player_id = std::string(credential);
  grant.display_name = std::string(credential);
  grant.role = "player";
  grant.permissions = kAllPermissions;
  return AuthResult::Granted(std::move(grant));
}

absl::StatusOr<std::unique_ptr<JwtAuthenticator>> JwtAuthenticator::Create(
    std::string key) {
  if (key.size() < kMinKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the HS256 key has ", key.size(), " bytes; at least ",
                     kMinKeyBytes, " are required (RFC 7518 section 3.2)"));
  }
  return std::unique_ptr<JwtAuthenticator>(
      new JwtAuthenticator(std::move(key)));
}

absl::StatusOr<std::unique_ptr<JwtAuthenticator>> JwtAuthenticator::FromKeyFile(
    const std::string& path) {
  if (path.empty()) {
    return absl::InvalidArgumentError(
        "--jwt_key_file is required with --authenticator=jwt");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the JWT key file ", path));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  std::string key = contents.str();
  while (!key.empty() && absl::ascii_isspace(key.back())) key.pop_back();
  absl::StatusOr<std::unique_ptr<JwtAuthenticator>> authenticator =
      Create(std::move(key));
  if (!authenticator.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "JWT key file ", path, ": ", authenticator.status().message()));
  }
  return authenticator;
}

AuthResult JwtAuthenticator::Authenticate(absl::string_view credential,
                                          absl::Time now) const {
  if (credential.empty() || credential.size() > kMaxTokenBytes) {
    return AuthResult::Refused(
        LoginRefusal::kBadCredential,
        "the credential is not a JWT of acceptable size");
  }
  // libjwt reads a C string, so it would verify only what comes before a NUL:
  // a signed token followed by a NUL and anything at all would pass. No JWT
  // contains one.
  if (credential.find('\0') != absl::string_view::npos) {
    return AuthResult::Refused(LoginRefusal::kBadCredential,
                               "the credential is not a well-formed JWT");
  }
  const std::string token(credential);
  // The algorithm is judged before the signature so that a token for another
  // algorithm (none, HS512, RS256...) is named as such; libjwt would otherwise
  // verify with whatever algorithm the token itself names.
  {
    JwtPtr unverified = Decode(token, nullptr);
    if (unverified == nullptr) {
      return AuthResult::Refused(LoginRefusal::kBadCredential,
                                 "the credential is not a well-formed JWT");
    }
    const char* alg = jwt_get_header(unverified.get(), "alg");
    if (alg == nullptr || absl::string_view(alg) != "HS256") {
      return AuthResult::Refused(
          LoginRefusal::kBadAlgorithm,
          absl::StrCat("only HS256 tokens are accepted, got ",
                       alg == nullptr ? "no alg" : absl::CEscape(alg)));
    }
  }
  JwtPtr jwt = Decode(token, &key_);
  if (jwt == nullptr) {
    return AuthResult::Refused(LoginRefusal::kBadSignature,
                               "the token's signature does not verify");
  }
  if (jwt_get_alg(jwt.get()) != JWT_ALG_HS256) {
    return AuthResult::Refused(LoginRefusal::kBadAlgorithm,
                               "only HS256 tokens are accepted");
  }

  bool malformed = false;
  const std::optional<absl::Time> expires =
      TimeClaim(jwt.get(), "exp", &malformed);
  const std::optional<absl::Time> not_before =
      TimeClaim(jwt.get(), "nbf", &malformed);
  if (malformed) {
    return AuthResult::Refused(LoginRefusal::kBadCredential,
                               "exp and nbf must be numbers of seconds");
  }
  if (!expires) {
    return AuthResult::Refused(LoginRefusal::kBadCredential,
                               "the token has no exp claim");
  }
  if (now >= *expires) {
    return AuthResult::Refused(LoginRefusal::kTokenExpired,
                               "the token has expired");
  }
  if (not_before && now < *not_before) {
    return AuthResult::Refused(LoginRefusal::kBadCredential,
                               "the token is not valid yet (nbf)");
  }

  const char* subject = jwt_get_grant(jwt.get(), "sub");
  if (subject == nullptr || *subject == '\0' ||
      std::strlen(subject) > kMaxClaimBytes) {
    return AuthResult::Refused(
        LoginRefusal::kBadCredential,
        "the token needs a sub claim (the player id) of 1 to 128 bytes");
  }
  PlayerGrant grant;
  grant.player_id = subject;
  const char* name = jwt_get_grant(jwt.get(), "name");
  grant.display_name = name != nullptr ? name : grant.player_id;
  const char* role = jwt_get_grant(jwt.get(), "role");
  grant.role = role != nullptr ? role : "player";
  if (grant.display_name.size() > kMaxClaimBytes ||
      grant.role.size() > kMaxClaimBytes) {
    return AuthResult::Refused(LoginRefusal::kBadCredential,
                               "name and role must be at most 128 bytes");
  }

  grant.permissions = 0;
  if (std::optional<std::string> json = ClaimJson(jwt.get(), "permissions")) {
    google::protobuf::ListValue list;
    if (!google::protobuf::util::JsonStringToMessage(*json, &list).ok()) {
      return AuthResult::Refused(LoginRefusal::kBadCredential,
                                 "permissions must be an array of strings");
    }
    for (const google::protobuf::Value& value : list.values()) {
      if (value.kind_case() != google::protobuf::Value::kStringValue) {
        return AuthResult::Refused(LoginRefusal::kBadCredential,
                                   "permissions must be an array of strings");
      }
      // Unknown names are ignored on purpose (see the header).
      ParsePermission(value.string_value(), &grant.permissions).IgnoreError();
    }
  }
  return AuthResult::Granted(std::move(grant));
}

absl::StatusOr<std::unique_ptr<Authenticator>> MakeAuthenticator(
    absl::string_view kind, const std::string& jwt_key_file) {
  if (kind == "dev") return std::make_unique<DevAuthenticator>();
  if (kind == "jwt") {
    absl::StatusOr<std::unique_ptr<JwtAuthenticator>> jwt =
        JwtAuthenticator::FromKeyFile(jwt_key_file);
    if (!jwt.ok()) return jwt.status();
    return std::unique_ptr<Authenticator>(std::move(*jwt));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--authenticator must be dev or jwt, got \"", absl::CEscape(kind), "\""));
}

}  // namespace gss
