#include "session_service/authenticator.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "session_service/test_jwt.h"

namespace gss {
namespace {

using ::gss::testing::MintToken;
using ::gss::testing::TokenClaims;

constexpr char kKey[] = "0123456789abcdef0123456789abcdef";
const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

TokenClaims Valid() {
  TokenClaims claims;
  claims.exp = kNow + absl::Minutes(5);
  return claims;
}

std::unique_ptr<JwtAuthenticator> Jwt() {
  auto jwt = JwtAuthenticator::Create(kKey);
  EXPECT_TRUE(jwt.ok()) << jwt.status();
  return *std::move(jwt);
}

TEST(DevAuthenticatorTest, NameBecomesPlayerWithEveryPermission) {
  DevAuthenticator dev;
  AuthResult result = dev.Authenticate("alice", kNow);
  ASSERT_TRUE(result.grant.has_value()) << LoginRefusalName(result.reason);
  EXPECT_EQ(result.grant->player_id, "alice");
  EXPECT_EQ(result.grant->display_name, "alice");
  EXPECT_EQ(result.grant->role, "player");
  EXPECT_EQ(result.grant->permissions, kAllPermissions);
}

TEST(DevAuthenticatorTest, RefusesEmptyLongAndUnprintableNames) {
  DevAuthenticator dev;
  for (const std::string& name :
       {std::string(), std::string(65, 'a'), std::string("bad\nname"),
        std::string("nul\0x", 5), std::string("\xc3\xa9")}) {
    AuthResult result = dev.Authenticate(name, kNow);
    EXPECT_FALSE(result.grant.has_value()) << name;
    EXPECT_EQ(result.reason, LoginRefusal::kBadCredential);
  }
  EXPECT_TRUE(dev.Authenticate(std::string(64, 'a'), kNow).grant.has_value());
}

TEST(JwtAuthenticatorTest, AcceptsHs256AndReadsClaims) {
  TokenClaims claims = Valid();
  claims.sub = "p-42";
  claims.name = "Forty Two";
  claims.role = "admin";
  claims.permissions = std::vector<std::string>{"shoot"};
  AuthResult result =
      Jwt()->Authenticate(MintToken(JWT_ALG_HS256, kKey, claims), kNow);
  ASSERT_TRUE(result.grant.has_value())
      << LoginRefusalName(result.reason) << result.detail;
  EXPECT_EQ(result.grant->player_id, "p-42");
  EXPECT_EQ(result.grant->display_name, "Forty Two");
  EXPECT_EQ(result.grant->role, "admin");
  EXPECT_EQ(result.grant->permissions, kPermissionShoot);
}

TEST(JwtAuthenticatorTest, DefaultsNameRoleAndIgnoresUnknownPermissions) {
  TokenClaims claims = Valid();
  claims.name.reset();
  claims.role.reset();
  claims.permissions = std::vector<std::string>{"move", "fly"};
  AuthResult result =
      Jwt()->Authenticate(MintToken(JWT_ALG_HS256, kKey, claims), kNow);
  ASSERT_TRUE(result.grant.has_value())
      << LoginRefusalName(result.reason) << result.detail;
  EXPECT_EQ(result.grant->display_name, "player-1");
  EXPECT_EQ(result.grant->role, "player");
  EXPECT_EQ(result.grant->permissions, kPermissionMove);
}

TEST(JwtAuthenticatorTest, NoPermissionsClaimGrantsNone) {
  TokenClaims claims = Valid();
  claims.permissions.reset();
  AuthResult result =
      Jwt()->Authenticate(MintToken(JWT_ALG_HS256, kKey, claims), kNow);
  ASSERT_TRUE(result.grant.has_value());
  EXPECT_EQ(result.grant->permissions, 0u);
}

struct Case {
  std::string name;
  std::string token;
  std::string reason;
};

TEST(JwtAuthenticatorTest, RefusalsNameTheirReason) {
  TokenClaims expired = Valid();
  expired.exp = kNow - absl::Seconds(1);
  TokenClaims expires_now = Valid();
  expires_now.exp = kNow;
  TokenClaims no_exp = Valid();
  no_exp.exp.reset();
  TokenClaims no_sub = Valid();
  no_sub.sub.reset();
  TokenClaims empty_sub = Valid();
  empty_sub.sub = "";
  TokenClaims long_sub = Valid();
  long_sub.sub = std::string(129, 's');
  TokenClaims not_yet = Valid();
  not_yet.nbf = kNow + absl::Minutes(1);
  TokenClaims bad_permissions = Valid();
  bad_permissions.permissions.reset();
  bad_permissions.extra_json = "{\"permissions\":[\"move\",7]}";
  TokenClaims permissions_not_list = Valid();
  permissions_not_list.permissions.reset();
  permissions_not_list.extra_json = "{\"permissions\":\"move\"}";
  TokenClaims exp_string = Valid();
  exp_string.exp.reset();
  exp_string.extra_json = "{\"exp\":\"tomorrow\"}";

  const std::string other_key = "another-key-another-key-another-";
  const std::vector<Case> cases = {
      {"expired", MintToken(JWT_ALG_HS256, kKey, expired), "token_expired"},
      {"expires_now", MintToken(JWT_ALG_HS256, kKey, expires_now),
       "token_expired"},
      {"bad_signature", MintToken(JWT_ALG_HS256, other_key, Valid()),
       "bad_signature"},
      {"alg_none", MintToken(JWT_ALG_NONE, "", Valid()), "bad_algorithm"},
      {"hs512_same_key", MintToken(JWT_ALG_HS512, kKey, Valid()),
       "bad_algorithm"},
      {"hs384_same_key", MintToken(JWT_ALG_HS384, kKey, Valid()),
       "bad_algorithm"},
      {"no_exp", MintToken(JWT_ALG_HS256, kKey, no_exp), "bad_credential"},
      {"exp_string", MintToken(JWT_ALG_HS256, kKey, exp_string),
       "bad_credential"},
      {"no_sub", MintToken(JWT_ALG_HS256, kKey, no_sub), "bad_credential"},
      {"empty_sub", MintToken(JWT_ALG_HS256, kKey, empty_sub),
       "bad_credential"},
      {"long_sub", MintToken(JWT_ALG_HS256, kKey, long_sub), "bad_credential"},
      {"not_yet_valid", MintToken(JWT_ALG_HS256, kKey, not_yet),
       "bad_credential"},
      {"permission_not_string", MintToken(JWT_ALG_HS256, kKey, bad_permissions),
       "bad_credential"},
      {"permissions_not_list",
       MintToken(JWT_ALG_HS256, kKey, permissions_not_list), "bad_credential"},
      {"garbage", "not.a.jwt", "bad_credential"},
      {"empty", "", "bad_credential"},
      {"huge", std::string(JwtAuthenticator::kMaxTokenBytes + 1, 'a'),
       "bad_credential"},
  };
  auto jwt = Jwt();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_FALSE(c.token.empty() && c.name != "empty");
    AuthResult result = jwt->Authenticate(c.token, kNow);
    EXPECT_FALSE(result.grant.has_value());
    EXPECT_EQ(LoginRefusalName(result.reason), c.reason) << result.detail;
  }
}

TEST(JwtAuthenticatorTest, TamperedPayloadFailsTheSignature) {
  std::string token = MintToken(JWT_ALG_HS256, kKey, Valid());
  TokenClaims admin = Valid();
  admin.role = "admin";
  const std::string forged = MintToken(JWT_ALG_HS256, "x", admin);
  // Header and signature of the real token, payload of the forged one.
  const size_t first = token.find('.');
  const size_t second = token.find('.', first + 1);
  const size_t f_first = forged.find('.');
  const size_t f_second = forged.find('.', f_first + 1);
  const std::string spliced =
      token.substr(0, first + 1) +
      forged.substr(f_first + 1, f_second - f_first - 1) + token.substr(second);
  AuthResult result = Jwt()->Authenticate(spliced, kNow);
  EXPECT_FALSE(result.grant.has_value());
  EXPECT_EQ(result.reason, LoginRefusal::kBadSignature);
}

TEST(JwtAuthenticatorTest, RefusesAnythingAfterANul) {
  const std::string token = MintToken(JWT_ALG_HS256, kKey, Valid());
  ASSERT_TRUE(Jwt()->Authenticate(token, kNow).grant.has_value());
  for (const std::string& suffix :
       {std::string(1, '\0'), std::string("\0{\"role\":\"admin\"}", 17)}) {
    AuthResult result = Jwt()->Authenticate(token + suffix, kNow);
    EXPECT_FALSE(result.grant.has_value()) << suffix.size();
    EXPECT_EQ(result.reason, LoginRefusal::kBadCredential);
  }
}

TEST(JwtAuthenticatorTest, KeyMustHave256Bits) {
  EXPECT_FALSE(JwtAuthenticator::Create("short").ok());
  EXPECT_FALSE(JwtAuthenticator::Create(std::string(31, 'k')).ok());
  EXPECT_TRUE(JwtAuthenticator::Create(std::string(32, 'k')).ok());
}

TEST(JwtAuthenticatorTest, KeyFileLosesItsTrailingNewline) {
  const std::string path =
      ::testing::TempDir() + "/authenticator_test_key_" +
      std::to_string(::testing::UnitTest::GetInstance()->random_seed());
  {
    std::ofstream out(path);
    out << kKey << "\n";
  }
  auto jwt = JwtAuthenticator::FromKeyFile(path);
  std::remove(path.c_str());
  ASSERT_TRUE(jwt.ok()) << jwt.status();
  EXPECT_TRUE((*jwt)
                  ->Authenticate(MintToken(JWT_ALG_HS256, kKey, Valid()), kNow)
                  .grant.has_value());
  EXPECT_FALSE(JwtAuthenticator::FromKeyFile(path).ok());
  EXPECT_FALSE(JwtAuthenticator::FromKeyFile("").ok());
}

TEST(MakeAuthenticatorTest, KnowsDevAndJwt) {
  auto dev = MakeAuthenticator("dev", "");
  ASSERT_TRUE(dev.ok());
  EXPECT_EQ((*dev)->name(), "dev");
  EXPECT_FALSE(MakeAuthenticator("jwt", "").ok());
  EXPECT_FALSE(MakeAuthenticator("ldap", "").ok());
}

}  // namespace
}  // namespace gss
