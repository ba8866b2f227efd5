#include "common/session_state.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace gss {
namespace {

std::string Str(absl::string_view s) { return std::string(s); }

TEST(SessionStateNameTest, EveryStateRoundTripsThroughParse) {
  for (int i = 0; i < kSessionStateCount; ++i) {
    const auto state = static_cast<SessionState>(i);
    const absl::string_view name = SessionStateName(state);
    ASSERT_FALSE(name.empty()) << i;
    EXPECT_EQ(ParseSessionState(name), state) << name;
  }
}

TEST(SessionStateNameTest, NamesAreTheDocumentedOnes) {
  EXPECT_EQ(Str(SessionStateName(SessionState::kConnecting)), "connecting");
  EXPECT_EQ(Str(SessionStateName(SessionState::kAuthenticating)),
            "authenticating");
  EXPECT_EQ(Str(SessionStateName(SessionState::kActive)), "active");
  EXPECT_EQ(Str(SessionStateName(SessionState::kSuspect)), "suspect");
  EXPECT_EQ(Str(SessionStateName(SessionState::kReconnecting)), "reconnecting");
  EXPECT_EQ(Str(SessionStateName(SessionState::kClosed)), "closed");
}

TEST(SessionStateNameTest, UnknownStateNamesGiveNullopt) {
  EXPECT_EQ(ParseSessionState(""), std::nullopt);
  EXPECT_EQ(ParseSessionState("Active"), std::nullopt);
  EXPECT_EQ(ParseSessionState("ACTIVE"), std::nullopt);
  EXPECT_EQ(ParseSessionState("active "), std::nullopt);
  EXPECT_EQ(ParseSessionState(" active"), std::nullopt);
  EXPECT_EQ(ParseSessionState("activ"), std::nullopt);
  EXPECT_EQ(ParseSessionState("kActive"), std::nullopt);
  EXPECT_EQ(ParseSessionState("timed_out"), std::nullopt);  // A reason.
  EXPECT_EQ(ParseSessionState("0"), std::nullopt);
}

TEST(CloseReasonNameTest, EveryReasonRoundTripsThroughParse) {
  for (int i = 0; i < kCloseReasonCount; ++i) {
    const auto reason = static_cast<CloseReason>(i);
    const absl::string_view name = CloseReasonName(reason);
    ASSERT_FALSE(name.empty()) << i;
    EXPECT_EQ(ParseCloseReason(name), reason) << name;
  }
}

TEST(CloseReasonNameTest, NamesAreTheDocumentedOnes) {
  EXPECT_EQ(Str(CloseReasonName(CloseReason::kNone)), "none");
  EXPECT_EQ(Str(CloseReasonName(CloseReason::kTransportClosed)),
            "transport_closed");
  EXPECT_EQ(Str(CloseReasonName(CloseReason::kLoginFailed)), "login_failed");
  EXPECT_EQ(Str(CloseReasonName(CloseReason::kTimedOut)), "timed_out");
  EXPECT_EQ(Str(CloseReasonName(CloseReason::kGraceExpired)), "grace_expired");
  EXPECT_EQ(Str(CloseReasonName(CloseReason::kEvicted)), "evicted");
  EXPECT_EQ(Str(CloseReasonName(CloseReason::kServerShutdown)),
            "server_shutdown");
  EXPECT_EQ(Str(CloseReasonName(CloseReason::kReplaced)), "replaced");
  EXPECT_EQ(Str(CloseReasonName(CloseReason::kResumeFailed)), "resume_failed");
  EXPECT_EQ(Str(CloseReasonName(CloseReason::kResumed)), "resumed");
}

TEST(CloseReasonNameTest, UnknownReasonNamesGiveNullopt) {
  EXPECT_EQ(ParseCloseReason(""), std::nullopt);
  EXPECT_EQ(ParseCloseReason("timed-out"), std::nullopt);
  EXPECT_EQ(ParseCloseReason("TIMED_OUT"), std::nullopt);
  EXPECT_EQ(ParseCloseReason("timed_out\n"), std::nullopt);
  EXPECT_EQ(ParseCloseReason("active"), std::nullopt);    // A state.
  EXPECT_EQ(ParseCloseReason("shutdown"), std::nullopt);  // An event name.
}

TEST(SessionEventNameTest, EveryEventHasADistinctNonEmptyName) {
  std::set<std::string> names;
  for (int i = 0; i < kSessionEventCount; ++i) {
    const absl::string_view name =
        SessionEventName(static_cast<SessionEvent>(i));
    EXPECT_FALSE(name.empty()) << i;
    EXPECT_TRUE(names.insert(Str(name)).second) << "duplicate: " << name;
  }
  EXPECT_EQ(Str(SessionEventName(SessionEvent::kTransportConnected)),
            "transport_connected");
  EXPECT_EQ(Str(SessionEventName(SessionEvent::kGraceExpired)),
            "grace_expired");
  EXPECT_EQ(Str(SessionEventName(SessionEvent::kAbsorbedByResume)),
            "absorbed_by_resume");
}

TEST(SessionStateNameTest, StateAndReasonNamesAreDistinctWithinTheirSet) {
  std::set<std::string> states;
  for (int i = 0; i < kSessionStateCount; ++i) {
    EXPECT_TRUE(
        states.insert(Str(SessionStateName(static_cast<SessionState>(i))))
            .second);
  }
  std::set<std::string> reasons;
  for (int i = 0; i < kCloseReasonCount; ++i) {
    EXPECT_TRUE(
        reasons.insert(Str(CloseReasonName(static_cast<CloseReason>(i))))
            .second);
  }
}

TEST(IsLoggedInTest, TrueExactlyForActiveSuspectAndReconnecting) {
  EXPECT_FALSE(IsLoggedIn(SessionState::kConnecting));
  EXPECT_FALSE(IsLoggedIn(SessionState::kAuthenticating));
  EXPECT_TRUE(IsLoggedIn(SessionState::kActive));
  EXPECT_TRUE(IsLoggedIn(SessionState::kSuspect));
  EXPECT_TRUE(IsLoggedIn(SessionState::kReconnecting));
  EXPECT_FALSE(IsLoggedIn(SessionState::kClosed));
}

TEST(IsLiveTest, TrueExactlyForActiveAndSuspect) {
  EXPECT_FALSE(IsLive(SessionState::kConnecting));
  EXPECT_FALSE(IsLive(SessionState::kAuthenticating));
  EXPECT_TRUE(IsLive(SessionState::kActive));
  EXPECT_TRUE(IsLive(SessionState::kSuspect));
  EXPECT_FALSE(IsLive(SessionState::kReconnecting));
  EXPECT_FALSE(IsLive(SessionState::kClosed));
}

}  // namespace
}  // namespace gss
