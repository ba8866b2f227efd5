#include "session_service/ops_auth.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gss {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::string_view kAdminToken = "admin-token-0123456789abcdef";
constexpr absl::string_view kReaderToken = "reader-token-0123456789abcdef";
constexpr absl::string_view kGet = "/gss.ops.v1.SessionInspection/GetSession";
constexpr absl::string_view kEvict =
    "/gss.ops.v1.SessionInspection/EvictSession";

std::string TokensText() {
  return absl::StrCat("# ops tokens\n\n", "admin alice ", kAdminToken, "\n",
                      "  reader bob\t", kReaderToken, "  \n");
}

OpsTokenTable Table(const std::string& text) {
  absl::StatusOr<OpsTokenTable> table = OpsTokenTable::Parse(text);
  EXPECT_TRUE(table.ok()) << table.status();
  return *std::move(table);
}

std::string Bearer(absl::string_view token) {
  return absl::StrCat("Bearer ", token);
}

TEST(RequiredAccessTest, EveryMethodHasItsRole) {
  EXPECT_EQ(RequiredAccess("/grpc.health.v1.Health/Check"), OpsAccess::kOpen);
  EXPECT_EQ(RequiredAccess("/grpc.health.v1.Health/Watch"), OpsAccess::kOpen);
  for (absl::string_view method :
       {"GetSession", "ListSessions", "WatchSessions", "GetServerInfo"}) {
    EXPECT_EQ(
        RequiredAccess(absl::StrCat("/gss.ops.v1.SessionInspection/", method)),
        OpsAccess::kReader)
        << method;
  }
  EXPECT_EQ(RequiredAccess(kEvict), OpsAccess::kAdmin);
  EXPECT_EQ(
      RequiredAccess(
          "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"),
      OpsAccess::kReader);
}

// What the server does not serve passes to gRPC, which answers
// UNIMPLEMENTED; only the ops service's own methods fall back to admin.
TEST(RequiredAccessTest, MethodsTheServerDoesNotServeAreNotServed) {
  for (absl::string_view path :
       {"/gss.ops.v1.SessionInspection/DeleteEverything", "",
        "/grpc.health.v1.Health/Checks",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "/gss.link.v1.GatewayLink/Attach", "/gss.ops.v1.SessionInspection/",
        "gss.ops.v1.SessionInspection/EvictSession"}) {
    EXPECT_EQ(RequiredAccess(path), OpsAccess::kNotServed) << path;
  }
}

TEST(OpsTokenTableTest, ParsesRolesPrincipalsAndComments) {
  OpsTokenTable table = Table(TokensText());
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.admins(), 1u);
  std::optional<OpsPrincipal> alice = table.Find(kAdminToken);
  ASSERT_TRUE(alice.has_value());
  EXPECT_EQ(alice->name, "alice");
  EXPECT_EQ(alice->role, OpsRole::kAdmin);
  std::optional<OpsPrincipal> bob = table.Find(kReaderToken);
  ASSERT_TRUE(bob.has_value());
  EXPECT_EQ(bob->name, "bob");
  EXPECT_EQ(bob->role, OpsRole::kReader);
  EXPECT_FALSE(table.Find("").has_value());
  EXPECT_FALSE(table.Find(kAdminToken.substr(1)).has_value());
  EXPECT_FALSE(table.Find(absl::StrCat(kAdminToken, "x")).has_value());
}

TEST(OpsTokenTableTest, APrincipalMayHoldTwoTokensForRotation) {
  OpsTokenTable table = Table(absl::StrCat(
      "admin alice ", kAdminToken, "\nadmin alice ", kReaderToken, "\n"));
  EXPECT_EQ(table.Find(kAdminToken)->name, "alice");
  EXPECT_EQ(table.Find(kReaderToken)->name, "alice");
}

TEST(OpsTokenTableTest, RefusesBadFilesWithTheLineAndWithoutTheToken) {
  struct Case {
    std::string text;
    std::string message;
  };
  const std::string short_token = "short-secret-value";
  const std::vector<Case> cases = {
      {"", "no tokens"},
      {"# only a comment\n\n", "no tokens"},
      {absl::StrCat("admin alice\n"), "line 1: expected"},
      {absl::StrCat("admin alice ", kAdminToken, " extra\n"), "line 1"},
      {absl::StrCat("\nroot alice ", kAdminToken), "line 2: unknown role"},
      {absl::StrCat("admin al!ce ", kAdminToken), "principal"},
      {absl::StrCat("admin ", std::string(65, 'a'), " ", kAdminToken),
       "principal"},
      {absl::StrCat("reader bob ", short_token), "use 24 to 512"},
      {absl::StrCat("reader bob ", std::string(513, 'x')), "use 24 to 512"},
      {absl::StrCat("reader bob ", kReaderToken, "\xff"), "printable"},
      {absl::StrCat("admin alice ", kAdminToken, "\nreader bob ", kAdminToken),
       "line 2: the token of \"bob\" is already given to \"alice\""},
  };
  for (const Case& c : cases) {
    absl::StatusOr<OpsTokenTable> table = OpsTokenTable::Parse(c.text);
    ASSERT_FALSE(table.ok()) << c.text;
    EXPECT_TRUE(absl::IsInvalidArgument(table.status()));
    EXPECT_THAT(table.status().message(), HasSubstr(c.message)) << c.text;
    EXPECT_THAT(table.status().message(), Not(HasSubstr(kAdminToken)));
    EXPECT_THAT(table.status().message(), Not(HasSubstr(short_token)));
  }
}

class OpsAuthorizerTest : public ::testing::Test {
 protected:
  OpsAuthDecision Check(absl::string_view path,
                        const std::vector<std::string>& authorization,
                        absl::string_view cert = "") {
    std::vector<absl::string_view> values(authorization.begin(),
                                          authorization.end());
    return authorizer_->Check(path, values, cert);
  }

  std::shared_ptr<OpsAuthorizer> authorizer_ =
      OpsAuthorizer::WithTokens(Table(TokensText()));
};

TEST_F(OpsAuthorizerTest, AnyKnownCallerReachesAMethodTheServerDoesNotServe) {
  constexpr absl::string_view kV1 =
      "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
  for (absl::string_view token : {kAdminToken, kReaderToken}) {
    EXPECT_TRUE(Check(kV1, {Bearer(token)}).status.ok()) << token;
  }
  EXPECT_TRUE(absl::IsUnauthenticated(Check(kV1, {}).status));
  EXPECT_TRUE(absl::IsUnauthenticated(
      Check(kV1, {Bearer("an-unknown-token-of-some-length")}).status));
}

TEST_F(OpsAuthorizerTest, MissingOrMalformedCredentialsAreUnauthenticated) {
  OpsAuthDecision none = Check(kGet, {});
  EXPECT_TRUE(absl::IsUnauthenticated(none.status));
  EXPECT_THAT(none.status.message(), HasSubstr("authorization: Bearer"));
  EXPECT_TRUE(absl::IsUnauthenticated(Check(kGet, {"Basic abc"}).status));
  EXPECT_TRUE(absl::IsUnauthenticated(Check(kGet, {"Bearer"}).status));
  EXPECT_TRUE(absl::IsUnauthenticated(Check(kGet, {"Bearer "}).status));
  EXPECT_TRUE(absl::IsUnauthenticated(
      Check(kGet, {std::string(kAdminToken)}).status));  // No scheme.
  EXPECT_TRUE(absl::IsUnauthenticated(
      Check(kGet, {Bearer(kAdminToken), Bearer(kAdminToken)}).status));
}

TEST_F(OpsAuthorizerTest, AWrongTokenIsUnauthenticated) {
  OpsAuthDecision wrong =
      Check(kGet, {Bearer("not-a-known-token-at-all-1234")});
  EXPECT_TRUE(absl::IsUnauthenticated(wrong.status));
  EXPECT_EQ(wrong.status.message(), "unknown ops token");
  EXPECT_TRUE(wrong.principal.empty());
}

TEST_F(OpsAuthorizerTest, ReaderMayLookButNotEvict) {
  for (absl::string_view method :
       {"GetSession", "ListSessions", "WatchSessions", "GetServerInfo"}) {
    OpsAuthDecision allowed =
        Check(absl::StrCat("/gss.ops.v1.SessionInspection/", method),
              {Bearer(kReaderToken)});
    EXPECT_TRUE(allowed.status.ok()) << method << ": " << allowed.status;
    EXPECT_EQ(allowed.principal, "bob");
    EXPECT_EQ(allowed.role, OpsRole::kReader);
  }
  OpsAuthDecision evict = Check(kEvict, {Bearer(kReaderToken)});
  EXPECT_TRUE(absl::IsPermissionDenied(evict.status));
  EXPECT_THAT(evict.status.message(), HasSubstr("\"bob\" has the reader role"));
  EXPECT_THAT(evict.status.message(), HasSubstr("EvictSession needs admin"));
  // A method the ops service does not have is no admin's right either: it
  // passes, and gRPC answers UNIMPLEMENTED.
  EXPECT_TRUE(
      Check("/gss.ops.v1.SessionInspection/Unlisted", {Bearer(kReaderToken)})
          .status.ok());
}

TEST_F(OpsAuthorizerTest, AdminMayCallEverything) {
  for (absl::string_view method :
       {"GetSession", "ListSessions", "WatchSessions", "GetServerInfo",
        "EvictSession", "Unlisted"}) {
    OpsAuthDecision allowed =
        Check(absl::StrCat("/gss.ops.v1.SessionInspection/", method),
              {Bearer(kAdminToken)}, "CN=ops-client");
    EXPECT_TRUE(allowed.status.ok()) << method << ": " << allowed.status;
    EXPECT_EQ(allowed.principal, "alice");
    EXPECT_EQ(allowed.role, OpsRole::kAdmin);
  }
  // The scheme is case-insensitive; spaces around the token do not count.
  EXPECT_TRUE(
      Check(kEvict, {absl::StrCat("bearer  ", kAdminToken, " ")}).status.ok());
}

TEST_F(OpsAuthorizerTest, HealthIsOpenEvenWithABadToken) {
  EXPECT_TRUE(Check("/grpc.health.v1.Health/Check", {}).status.ok());
  EXPECT_TRUE(
      Check("/grpc.health.v1.Health/Watch", {"Bearer wrong"}).status.ok());
}

TEST_F(OpsAuthorizerTest, ReplacedTokensTakeEffect) {
  const std::string new_token = "rotated-token-0123456789abcdef";
  authorizer_->ReplaceTokens(
      Table(absl::StrCat("admin alice ", new_token, "\n")));
  EXPECT_EQ(authorizer_->token_count(), 1u);
  EXPECT_TRUE(
      absl::IsUnauthenticated(Check(kEvict, {Bearer(kAdminToken)}).status));
  EXPECT_TRUE(Check(kEvict, {Bearer(new_token)}).status.ok());
}

TEST(OpsAuthorizerAllowAllTest, NamesTheCertificateOrAnonymous) {
  std::shared_ptr<OpsAuthorizer> open = OpsAuthorizer::AllowAll();
  EXPECT_FALSE(open->checks_tokens());
  OpsAuthDecision anonymous = open->Check(kEvict, {}, "");
  EXPECT_TRUE(anonymous.status.ok());
  EXPECT_EQ(anonymous.principal, "anonymous");
  EXPECT_FALSE(anonymous.role.has_value());
  EXPECT_EQ(open->Check(kEvict, {}, "CN=ops-client").principal,
            "CN=ops-client");
}

class OpsTokensFileTest : public ::testing::Test {
 protected:
  void Write(const std::string& text) {
    std::ofstream(path_, std::ios::trunc) << text;
  }
  void TearDown() override { std::remove(path_.c_str()); }

  const std::string path_ =
      absl::StrCat(::testing::TempDir(), "ops_tokens_", getpid());
};

TEST_F(OpsTokensFileTest, LoadsAndRotatesWithoutLosingGoodTokens) {
  Write(TokensText());
  absl::StatusOr<std::unique_ptr<OpsTokensFile>> file =
      OpsTokensFile::Load(path_);
  ASSERT_TRUE(file.ok()) << file.status();
  const std::shared_ptr<OpsAuthorizer> authorizer = (*file)->authorizer();
  EXPECT_EQ(authorizer->token_count(), 2u);
  const std::vector<absl::string_view> admin_value = {
      "Bearer admin-token-0123456789abcdef"};
  EXPECT_TRUE(authorizer->Check(kEvict, admin_value, "").status.ok());

  EXPECT_EQ((*file)->Reload().value_or(true), false);  // Unchanged.

  Write("admin alice too-short\n");
  absl::StatusOr<bool> bad = (*file)->Reload();
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr(path_));
  EXPECT_EQ((*file)->Reload().value_or(true), false);  // Reported once.
  EXPECT_TRUE(authorizer->Check(kEvict, admin_value, "").status.ok());

  const std::string new_token = "rotated-token-0123456789abcdef";
  Write(absl::StrCat("admin alice ", new_token, "\n"));
  EXPECT_EQ((*file)->Reload().value_or(false), true);
  EXPECT_EQ(authorizer->token_count(), 1u);
  EXPECT_TRUE(absl::IsUnauthenticated(
      authorizer->Check(kEvict, admin_value, "").status));
  const std::vector<absl::string_view> new_value = {
      "Bearer rotated-token-0123456789abcdef"};
  EXPECT_TRUE(authorizer->Check(kEvict, new_value, "").status.ok());
}

TEST_F(OpsTokensFileTest, AMissingOrBadFileIsRefusedAtLoad) {
  absl::StatusOr<std::unique_ptr<OpsTokensFile>> missing =
      OpsTokensFile::Load(path_ + ".missing");
  EXPECT_TRUE(absl::IsInvalidArgument(missing.status()));
  EXPECT_THAT(missing.status().message(), HasSubstr("cannot read"));
  Write("reader bob\n");
  absl::StatusOr<std::unique_ptr<OpsTokensFile>> bad =
      OpsTokensFile::Load(path_);
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status()));
  EXPECT_THAT(bad.status().message(), HasSubstr("line 1"));
}

}  // namespace
}  // namespace gss
