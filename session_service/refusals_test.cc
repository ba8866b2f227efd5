#include "session_service/refusals.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace gss {
namespace {

// Every value has its own protocol name (docs/protocol.md lists them), and
// none is the fallback.
template <typename Enum>
void ExpectDistinctNames(int count, absl::string_view (*name)(Enum)) {
  std::set<std::string> names;
  for (int i = 0; i < count; ++i) {
    const std::string n(name(static_cast<Enum>(i)));
    EXPECT_NE(n, "unknown") << i;
    EXPECT_TRUE(names.insert(n).second) << n;
  }
}

TEST(RefusalsTest, EveryReasonHasItsOwnName) {
  ExpectDistinctNames<DisconnectReason>(kDisconnectReasonCount,
                                        DisconnectReasonName);
  ExpectDistinctNames<LoginRefusal>(kLoginRefusalCount, LoginRefusalName);
  ExpectDistinctNames<ResumeRefusal>(kResumeRefusalCount, ResumeRefusalName);
}

TEST(RefusalsTest, NamesAreTheProtocols) {
  EXPECT_EQ(DisconnectReasonName(DisconnectReason::kServerShutdown),
            "server_shutdown");
  EXPECT_EQ(DisconnectReasonName(DisconnectReason::kSessionUnknown),
            "session_unknown");
  EXPECT_EQ(LoginRefusalName(LoginRefusal::kAlreadyLoggedIn),
            "already_logged_in");
  EXPECT_EQ(LoginRefusalName(LoginRefusal::kBadAlgorithm), "bad_algorithm");
  EXPECT_EQ(ResumeRefusalName(ResumeRefusal::kUnknownToken), "unknown_token");
}

}  // namespace
}  // namespace gss
