// Fuzz target for login credentials (session_service/authenticator): the JWT
// verification a Login's credential goes through, and the dev authenticator.
//
// Input: tried three ways. As a credential as it stands; as the claims of a
// token signed with the service's key (so the claim checks are reached, which
// random bytes never pass the signature to get to); and as the claims of a
// token signed with another key, which must never be accepted.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "fuzz/fixtures.h"
#include "fuzz/fuzz_check.h"
#include "session_service/authenticator.h"

namespace {

using gss::AuthResult;

using gss::fuzz::kJwtKey;
using gss::fuzz::kOtherJwtKey;
const absl::Time kNow = absl::FromUnixSeconds(gss::fuzz::kJwtNowSeconds);

const gss::JwtAuthenticator& Jwt() {
  static const gss::JwtAuthenticator* jwt =
      gss::JwtAuthenticator::Create(std::string(kJwtKey))->release();
  return *jwt;
}

std::string HmacSha256(absl::string_view key, absl::string_view message) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
       digest.data(), &size);
  return std::string(reinterpret_cast<const char*>(digest.data()), size);
}

std::string SignedToken(absl::string_view claims, absl::string_view key) {
  const std::string signing_input =
      absl::StrCat(absl::WebSafeBase64Escape(R"({"alg":"HS256","typ":"JWT"})"),
                   ".", absl::WebSafeBase64Escape(claims));
  return absl::StrCat(
      signing_input, ".",
      absl::WebSafeBase64Escape(HmacSha256(key, signing_input)));
}

// Whether `token` carries a correct HS256 signature by the service's key,
// judged without libjwt.
bool SignedByServiceKey(absl::string_view token) {
  const std::vector<absl::string_view> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) return false;
  std::string signature;
  if (!absl::WebSafeBase64Unescape(parts[2], &signature)) return false;
  return signature ==
         HmacSha256(kJwtKey, absl::StrCat(parts[0], ".", parts[1]));
}

// What holds for every answer, whatever was presented.
void CheckWellFormed(const AuthResult& result) {
  FUZZ_CHECK(!result.grant.has_value() || result.detail.empty());
  if (result.grant) {
    const gss::PlayerGrant& grant = *result.grant;
    FUZZ_CHECK(!grant.player_id.empty() && grant.player_id.size() <= 128);
    FUZZ_CHECK(grant.display_name.size() <= 128);
    FUZZ_CHECK(grant.role.size() <= 128);
    FUZZ_CHECK((grant.permissions & ~gss::kAllPermissions) == 0);
    return;
  }
  FUZZ_CHECK(result.reason == gss::LoginRefusal::kBadCredential ||
             result.reason == gss::LoginRefusal::kTokenExpired ||
             result.reason == gss::LoginRefusal::kBadSignature ||
             result.reason == gss::LoginRefusal::kBadAlgorithm);
  // Details reach clients: they must never echo the key.
  FUZZ_CHECK(!absl::StrContains(result.detail, kJwtKey));
}

bool PrintableAscii(absl::string_view text) {
  for (char c : text) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);

  const AuthResult raw = Jwt().Authenticate(input, kNow);
  CheckWellFormed(raw);
  // Nothing gets in without the service's signature.
  if (raw.grant) FUZZ_CHECK(SignedByServiceKey(input));

  const AuthResult signed_claims =
      Jwt().Authenticate(SignedToken(input, kJwtKey), kNow);
  CheckWellFormed(signed_claims);

  const AuthResult forged =
      Jwt().Authenticate(SignedToken(input, kOtherJwtKey), kNow);
  CheckWellFormed(forged);
  FUZZ_CHECK(!forged.grant);
  // Claims that passed every other check were refused for the signature.
  if (signed_claims.grant ||
      signed_claims.reason == gss::LoginRefusal::kTokenExpired) {
    FUZZ_CHECK(forged.reason == gss::LoginRefusal::kBadSignature);
  }

  const AuthResult dev = gss::DevAuthenticator().Authenticate(input, kNow);
  CheckWellFormed(dev);
  FUZZ_CHECK(dev.grant.has_value() ==
             (!input.empty() && input.size() <= 64 && PrintableAscii(input)));
  if (dev.grant) {
    FUZZ_CHECK(dev.grant->player_id == input);
    FUZZ_CHECK(dev.grant->display_name == input);
  }
  return 0;
}
