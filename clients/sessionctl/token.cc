#include "clients/sessionctl/token.h"

#include <jwt.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace gss::sessionctl {
namespace {

struct JwtDeleter {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
struct FreeDeleter {
  void operator()(char* text) const { std::free(text); }
};

}  // namespace

absl::StatusOr<std::string> ReadKeyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the key file ", path));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  std::string key = contents.str();
  while (!key.empty() && absl::ascii_isspace(key.back())) key.pop_back();
  if (key.size() < kMinKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("key file ", path, ": the HS256 key has ", key.size(),
                     " bytes; at least ", kMinKeyBytes, " are required"));
  }
  return key;
}

absl::StatusOr<std::string> MintToken(const TokenClaims& claims,
                                      const std::string& key) {
  if (claims.player.empty()) {
    return absl::InvalidArgumentError("the player id (sub) must not be empty");
  }
  if (key.size() < kMinKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the HS256 key needs at least ", kMinKeyBytes, " bytes"));
  }
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) return absl::InternalError("jwt_new failed");
  std::unique_ptr<jwt_t, JwtDeleter> jwt(raw);

  // The string claims and the permissions array go in as one JSON object,
  // built with protobuf's JSON printer so that every value is escaped.
  google::protobuf::Struct grants;
  auto& fields = *grants.mutable_fields();
  fields["sub"].set_string_value(claims.player);
  if (!claims.name.empty()) fields["name"].set_string_value(claims.name);
  if (!claims.role.empty()) fields["role"].set_string_value(claims.role);
  google::protobuf::ListValue* permissions =
      fields["permissions"].mutable_list_value();
  for (const std::string& permission : claims.permissions) {
    permissions->add_values()->set_string_value(permission);
  }
  std::string grants_json;
  if (!google::protobuf::util::MessageToJsonString(grants, &grants_json).ok()) {
    return absl::InternalError("cannot encode the claims as JSON");
  }
  if (jwt_add_grants_json(jwt.get(), grants_json.c_str()) != 0 ||
      jwt_add_grant_int(
          jwt.get(), "iat",
          static_cast<long>(  // NOLINT(google-runtime-int): libjwt's type.
              absl::ToUnixSeconds(claims.issued))) != 0 ||
      jwt_add_grant_int(
          jwt.get(), "exp",
          static_cast<long>(  // NOLINT(google-runtime-int): libjwt's type.
              absl::ToUnixSeconds(claims.expires))) != 0) {
    return absl::InternalError("cannot add the claims to the token");
  }
  if (jwt_set_alg(jwt.get(), JWT_ALG_HS256,
                  reinterpret_cast<const unsigned char*>(key.data()),
                  static_cast<int>(key.size())) != 0) {
    return absl::InternalError("cannot set HS256 with the key");
  }
  std::unique_ptr<char, FreeDeleter> token(jwt_encode_str(jwt.get()));
  if (token == nullptr) return absl::InternalError("cannot sign the token");
  return std::string(token.get());
}

}  // namespace gss::sessionctl
