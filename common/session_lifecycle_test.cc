#include "common/session_lifecycle.h"

#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace gss {
namespace {

using E = SessionEvent;
using S = SessionState;
using R = CloseReason;

const LifecycleRules kHold{/*hold_for_resume=*/true, /*max_resume_attempts=*/3};
const LifecycleRules kNoHold{/*hold_for_resume=*/false,
                             /*max_resume_attempts=*/3};

std::string Str(absl::string_view s) { return std::string(s); }

// Applies `event` and insists that it is valid.
std::optional<Transition> MustApply(SessionLifecycle& lifecycle, E event,
                                    const LifecycleRules& rules = kHold) {
  absl::StatusOr<std::optional<Transition>> result =
      lifecycle.Apply(event, rules);
  EXPECT_TRUE(result.ok()) << "event " << Str(SessionEventName(event))
                           << " in state "
                           << Str(SessionStateName(lifecycle.state())) << ": "
                           << result.status();
  if (!result.ok()) return std::nullopt;
  return *result;
}

// A lifecycle brought to `state` by a valid path under `kHold`. Closed is
// reached by an orderly transport close while Connecting.
SessionLifecycle Reach(S state) {
  SessionLifecycle lifecycle;
  auto step = [&](E event) { MustApply(lifecycle, event); };
  switch (state) {
    case S::kConnecting:
      break;
    case S::kAuthenticating:
      step(E::kTransportConnected);
      break;
    case S::kActive:
      step(E::kTransportConnected);
      step(E::kLoginSucceeded);
      break;
    case S::kSuspect:
      step(E::kTransportConnected);
      step(E::kLoginSucceeded);
      step(E::kLivenessOverdue);
      break;
    case S::kReconnecting:
      step(E::kTransportConnected);
      step(E::kLoginSucceeded);
      step(E::kTransportLost);
      break;
    case S::kClosed:
      step(E::kTransportClosed);
      break;
  }
  EXPECT_EQ(lifecycle.state(), state);
  return lifecycle;
}

// What the transition table says about one (state, event) pair under kHold,
// written out from the design rather than derived from the implementation.
struct Expected {
  enum Kind { kInvalid, kStay, kMove } kind;
  S to = S::kClosed;
  R reason = R::kNone;
};
constexpr Expected Invalid() { return {Expected::kInvalid}; }
constexpr Expected Stay() { return {Expected::kStay}; }
constexpr Expected To(S to) { return {Expected::kMove, to, R::kNone}; }
constexpr Expected Closed(R reason) {
  return {Expected::kMove, S::kClosed, reason};
}

Expected ExpectedStep(S state, E event) {
  if (state == S::kClosed) return Invalid();
  switch (event) {
    case E::kEvict:
      return Closed(R::kEvicted);
    case E::kReplace:
      return Closed(R::kReplaced);
    case E::kShutdown:
      return Closed(R::kServerShutdown);
    default:
      break;
  }
  switch (state) {
    case S::kConnecting:
      switch (event) {
        case E::kTransportConnected:
          return To(S::kAuthenticating);
        case E::kTransportClosed:
          return Closed(R::kTransportClosed);
        case E::kTransportLost:
          return Closed(R::kTransportClosed);
        case E::kLoginSucceeded:
          return Invalid();
        case E::kLoginFailed:
          return Invalid();
        case E::kHeartbeat:
          return Invalid();
        case E::kInboundMessage:
          return Invalid();
        case E::kResumeSucceeded:
          return Invalid();
        case E::kResumeFailed:
          return Invalid();
        case E::kAbsorbedByResume:
          return Closed(R::kResumed);
        case E::kLivenessOverdue:
          return Invalid();
        case E::kLivenessLost:
          return Invalid();
        case E::kDeadlinePassed:
          return Closed(R::kTimedOut);
        case E::kGraceExpired:
          return Invalid();
        default:
          break;
      }
      break;
    case S::kAuthenticating:
      switch (event) {
        case E::kTransportConnected:
          return Invalid();
        case E::kTransportClosed:
          return Closed(R::kTransportClosed);
        case E::kTransportLost:
          return Closed(R::kTransportClosed);
        case E::kLoginSucceeded:
          return To(S::kActive);
        case E::kLoginFailed:
          return Closed(R::kLoginFailed);
        case E::kHeartbeat:
          return Stay();
        case E::kInboundMessage:
          return Stay();
        case E::kResumeSucceeded:
          return To(S::kActive);
        case E::kResumeFailed:
          return Stay();
        case E::kAbsorbedByResume:
          return Closed(R::kResumed);
        case E::kLivenessOverdue:
          return Invalid();
        case E::kLivenessLost:
          return Invalid();
        case E::kDeadlinePassed:
          return Closed(R::kTimedOut);
        case E::kGraceExpired:
          return Invalid();
        default:
          break;
      }
      break;
    case S::kActive:
      switch (event) {
        case E::kTransportConnected:
          return Invalid();
        case E::kTransportClosed:
          return Closed(R::kTransportClosed);
        case E::kTransportLost:
          return To(S::kReconnecting);
        case E::kLoginSucceeded:
          return Invalid();
        case E::kLoginFailed:
          return Invalid();
        case E::kHeartbeat:
          return Stay();
        case E::kInboundMessage:
          return Stay();
        case E::kResumeSucceeded:
          return To(S::kActive);  // Reported, see ResumeWhileActive below.
        case E::kResumeFailed:
          return Invalid();
        case E::kAbsorbedByResume:
          return Invalid();
        case E::kLivenessOverdue:
          return To(S::kSuspect);
        case E::kLivenessLost:
          return To(S::kReconnecting);
        case E::kDeadlinePassed:
          return Invalid();
        case E::kGraceExpired:
          return Invalid();
        default:
          break;
      }
      break;
    case S::kSuspect:
      switch (event) {
        case E::kTransportConnected:
          return Invalid();
        case E::kTransportClosed:
          return Closed(R::kTransportClosed);
        case E::kTransportLost:
          return To(S::kReconnecting);
        case E::kLoginSucceeded:
          return Invalid();
        case E::kLoginFailed:
          return Invalid();
        case E::kHeartbeat:
          return To(S::kActive);
        case E::kInboundMessage:
          return To(S::kActive);
        case E::kResumeSucceeded:
          return To(S::kActive);
        case E::kResumeFailed:
          return Invalid();
        case E::kAbsorbedByResume:
          return Invalid();
        case E::kLivenessOverdue:
          return Stay();
        case E::kLivenessLost:
          return To(S::kReconnecting);
        case E::kDeadlinePassed:
          return Invalid();
        case E::kGraceExpired:
          return Invalid();
        default:
          break;
      }
      break;
    case S::kReconnecting:
      switch (event) {
        case E::kTransportConnected:
          return Stay();
        case E::kTransportClosed:
          return Closed(R::kTransportClosed);
        case E::kTransportLost:
          return Stay();
        case E::kLoginSucceeded:
          return To(S::kActive);
        case E::kLoginFailed:
          return Closed(R::kLoginFailed);
        case E::kHeartbeat:
          return Stay();
        case E::kInboundMessage:
          return Stay();
        case E::kResumeSucceeded:
          return To(S::kActive);
        case E::kResumeFailed:
          return Stay();  // The first of three allowed attempts.
        case E::kAbsorbedByResume:
          return Invalid();
        case E::kLivenessOverdue:
          return Invalid();
        case E::kLivenessLost:
          return Invalid();
        case E::kDeadlinePassed:
          return Invalid();
        case E::kGraceExpired:
          return Closed(R::kGraceExpired);
        default:
          break;
      }
      break;
    case S::kClosed:
      break;
  }
  ADD_FAILURE() << "no expectation for " << Str(SessionStateName(state))
                << " x " << Str(SessionEventName(event));
  return Invalid();
}

class TransitionTableTest
    : public testing::TestWithParam<std::tuple<int, int>> {
 protected:
  S state() const { return static_cast<S>(std::get<0>(GetParam())); }
  E event() const { return static_cast<E>(std::get<1>(GetParam())); }
};

TEST_P(TransitionTableTest, EventLeadsWhereTheTableSays) {
  SessionLifecycle lifecycle = Reach(state());
  ASSERT_EQ(lifecycle.state(), state());
  const R reason_before = lifecycle.close_reason();
  const int failed_before = lifecycle.failed_resumes();
  const Expected expected = ExpectedStep(state(), event());

  absl::StatusOr<std::optional<Transition>> result =
      lifecycle.Apply(event(), kHold);

  switch (expected.kind) {
    case Expected::kInvalid:
      ASSERT_FALSE(result.ok());
      EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
      EXPECT_EQ(lifecycle.state(), state());
      EXPECT_EQ(lifecycle.close_reason(), reason_before);
      EXPECT_EQ(lifecycle.failed_resumes(), failed_before);
      break;
    case Expected::kStay:
      ASSERT_TRUE(result.ok()) << result.status();
      EXPECT_EQ(*result, std::nullopt);
      EXPECT_EQ(lifecycle.state(), state());
      EXPECT_EQ(lifecycle.close_reason(), R::kNone);
      break;
    case Expected::kMove:
      ASSERT_TRUE(result.ok()) << result.status();
      ASSERT_TRUE(result->has_value());
      EXPECT_EQ(**result,
                (Transition{state(), expected.to, event(), expected.reason}));
      EXPECT_EQ(lifecycle.state(), expected.to);
      EXPECT_EQ(lifecycle.close_reason(), expected.reason);
      break;
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllStatesAndEvents, TransitionTableTest,
    testing::Combine(testing::Range(0, kSessionStateCount),
                     testing::Range(0, kSessionEventCount)),
    [](const testing::TestParamInfo<std::tuple<int, int>>& info) {
      return Str(SessionStateName(static_cast<S>(std::get<0>(info.param)))) +
             "_" +
             Str(SessionEventName(static_cast<E>(std::get<1>(info.param))));
    });

TEST(SessionLifecycleTest, StartsConnectingWithNoReasonAndNoFailures) {
  SessionLifecycle lifecycle;
  EXPECT_EQ(lifecycle.state(), S::kConnecting);
  EXPECT_EQ(lifecycle.close_reason(), R::kNone);
  EXPECT_EQ(lifecycle.failed_resumes(), 0);
}

TEST(SessionLifecycleTest, ReachPathsReportEachTransition) {
  SessionLifecycle lifecycle;
  EXPECT_EQ(MustApply(lifecycle, E::kTransportConnected),
            (Transition{S::kConnecting, S::kAuthenticating,
                        E::kTransportConnected, R::kNone}));
  EXPECT_EQ(MustApply(lifecycle, E::kLoginSucceeded),
            (Transition{S::kAuthenticating, S::kActive, E::kLoginSucceeded,
                        R::kNone}));
  EXPECT_EQ(
      MustApply(lifecycle, E::kLivenessOverdue),
      (Transition{S::kActive, S::kSuspect, E::kLivenessOverdue, R::kNone}));
  EXPECT_EQ(
      MustApply(lifecycle, E::kLivenessLost),
      (Transition{S::kSuspect, S::kReconnecting, E::kLivenessLost, R::kNone}));
  EXPECT_EQ(MustApply(lifecycle, E::kResumeSucceeded),
            (Transition{S::kReconnecting, S::kActive, E::kResumeSucceeded,
                        R::kNone}));
}

struct ClosePath {
  std::string name;
  std::vector<E> events;  // The last one closes.
  R reason;
};

TEST(SessionLifecycleTest, EveryTransitionIntoClosedCarriesItsReason) {
  const std::vector<E> active = {E::kTransportConnected, E::kLoginSucceeded};
  auto after = [](std::vector<E> prefix, std::initializer_list<E> more) {
    prefix.insert(prefix.end(), more);
    return prefix;
  };
  const std::vector<ClosePath> paths = {
      {"orderly close while connecting",
       {E::kTransportClosed},
       R::kTransportClosed},
      {"transport lost while connecting",
       {E::kTransportLost},
       R::kTransportClosed},
      {"transport lost while authenticating",
       {E::kTransportConnected, E::kTransportLost},
       R::kTransportClosed},
      {"orderly close while active", after(active, {E::kTransportClosed}),
       R::kTransportClosed},
      {"orderly close while reconnecting",
       after(active, {E::kTransportLost, E::kTransportClosed}),
       R::kTransportClosed},
      {"login refused",
       {E::kTransportConnected, E::kLoginFailed},
       R::kLoginFailed},
      {"fresh login refused while reconnecting",
       after(active, {E::kTransportLost, E::kLoginFailed}), R::kLoginFailed},
      {"connect deadline", {E::kDeadlinePassed}, R::kTimedOut},
      {"login deadline",
       {E::kTransportConnected, E::kDeadlinePassed},
       R::kTimedOut},
      {"grace expired", after(active, {E::kTransportLost, E::kGraceExpired}),
       R::kGraceExpired},
      {"evicted while suspect", after(active, {E::kLivenessOverdue, E::kEvict}),
       R::kEvicted},
      {"evicted while connecting", {E::kEvict}, R::kEvicted},
      {"shutdown while reconnecting",
       after(active, {E::kTransportLost, E::kShutdown}), R::kServerShutdown},
      {"shutdown while authenticating",
       {E::kTransportConnected, E::kShutdown},
       R::kServerShutdown},
      {"replaced while active", after(active, {E::kReplace}), R::kReplaced},
      {"resume attempts used up",
       after(active, {E::kTransportLost, E::kResumeFailed, E::kResumeFailed,
                      E::kResumeFailed}),
       R::kResumeFailed},
      {"absorbed while connecting", {E::kAbsorbedByResume}, R::kResumed},
      {"absorbed while authenticating",
       {E::kTransportConnected, E::kAbsorbedByResume},
       R::kResumed},
  };
  for (const ClosePath& path : paths) {
    SCOPED_TRACE(path.name);
    SessionLifecycle lifecycle;
    std::optional<Transition> last;
    for (E event : path.events) {
      ASSERT_NE(lifecycle.state(), S::kClosed) << "closed too early";
      last = MustApply(lifecycle, event, kHold);
    }
    ASSERT_TRUE(last.has_value());
    EXPECT_EQ(last->to, S::kClosed);
    EXPECT_EQ(last->reason, path.reason);
    EXPECT_EQ(last->cause, path.events.back());
    EXPECT_EQ(lifecycle.state(), S::kClosed);
    EXPECT_EQ(lifecycle.close_reason(), path.reason);
  }
}

TEST(SessionLifecycleTest, TransitionsOutsideClosedCarryNoReason) {
  SessionLifecycle lifecycle;
  for (E event :
       {E::kTransportConnected, E::kLoginSucceeded, E::kLivenessOverdue,
        E::kHeartbeat, E::kTransportLost, E::kResumeSucceeded}) {
    std::optional<Transition> transition = MustApply(lifecycle, event);
    ASSERT_TRUE(transition.has_value()) << Str(SessionEventName(event));
    EXPECT_EQ(transition->reason, R::kNone);
    EXPECT_EQ(lifecycle.close_reason(), R::kNone);
  }
}

TEST(SessionLifecycleTest, WithoutHoldLivenessLostClosesAsTimedOut) {
  for (S from : {S::kActive, S::kSuspect}) {
    SCOPED_TRACE(Str(SessionStateName(from)));
    SessionLifecycle lifecycle = Reach(from);
    EXPECT_EQ(MustApply(lifecycle, E::kLivenessLost, kNoHold),
              (Transition{from, S::kClosed, E::kLivenessLost, R::kTimedOut}));
    EXPECT_EQ(lifecycle.state(), S::kClosed);
    EXPECT_EQ(lifecycle.close_reason(), R::kTimedOut);
  }
}

TEST(SessionLifecycleTest, WithoutHoldTransportLostClosesAsTransportClosed) {
  for (S from : {S::kActive, S::kSuspect}) {
    SCOPED_TRACE(Str(SessionStateName(from)));
    SessionLifecycle lifecycle = Reach(from);
    EXPECT_EQ(
        MustApply(lifecycle, E::kTransportLost, kNoHold),
        (Transition{from, S::kClosed, E::kTransportLost, R::kTransportClosed}));
    EXPECT_EQ(lifecycle.state(), S::kClosed);
    EXPECT_EQ(lifecycle.close_reason(), R::kTransportClosed);
  }
}

TEST(SessionLifecycleTest, WithoutHoldOtherTransitionsAreUnchanged) {
  SessionLifecycle lifecycle;
  EXPECT_EQ(MustApply(lifecycle, E::kTransportConnected, kNoHold),
            (Transition{S::kConnecting, S::kAuthenticating,
                        E::kTransportConnected, R::kNone}));
  EXPECT_EQ(MustApply(lifecycle, E::kLoginSucceeded, kNoHold),
            (Transition{S::kAuthenticating, S::kActive, E::kLoginSucceeded,
                        R::kNone}));
  EXPECT_EQ(
      MustApply(lifecycle, E::kLivenessOverdue, kNoHold),
      (Transition{S::kActive, S::kSuspect, E::kLivenessOverdue, R::kNone}));
  EXPECT_EQ(
      MustApply(lifecycle, E::kInboundMessage, kNoHold),
      (Transition{S::kSuspect, S::kActive, E::kInboundMessage, R::kNone}));
  EXPECT_EQ(MustApply(lifecycle, E::kHeartbeat, kNoHold), std::nullopt);
  EXPECT_EQ(lifecycle.state(), S::kActive);
  EXPECT_EQ(MustApply(lifecycle, E::kTransportClosed, kNoHold),
            (Transition{S::kActive, S::kClosed, E::kTransportClosed,
                        R::kTransportClosed}));
}

TEST(SessionLifecycleTest, WithHoldLossMovesToReconnectingFromBothStates) {
  for (S from : {S::kActive, S::kSuspect}) {
    for (E event : {E::kTransportLost, E::kLivenessLost}) {
      SCOPED_TRACE(Str(SessionStateName(from)) + " " +
                   Str(SessionEventName(event)));
      SessionLifecycle lifecycle = Reach(from);
      EXPECT_EQ(MustApply(lifecycle, event, kHold),
                (Transition{from, S::kReconnecting, event, R::kNone}));
      EXPECT_EQ(lifecycle.close_reason(), R::kNone);
    }
  }
}

TEST(SessionLifecycleTest, ResumeFailuresCountInReconnectingAndCloseAtMax) {
  SessionLifecycle lifecycle = Reach(S::kReconnecting);
  ASSERT_EQ(lifecycle.failed_resumes(), 0);

  EXPECT_EQ(MustApply(lifecycle, E::kResumeFailed), std::nullopt);
  EXPECT_EQ(lifecycle.failed_resumes(), 1);
  EXPECT_EQ(lifecycle.state(), S::kReconnecting);

  EXPECT_EQ(MustApply(lifecycle, E::kResumeFailed), std::nullopt);
  EXPECT_EQ(lifecycle.failed_resumes(), 2);
  EXPECT_EQ(lifecycle.state(), S::kReconnecting);

  EXPECT_EQ(MustApply(lifecycle, E::kResumeFailed),
            (Transition{S::kReconnecting, S::kClosed, E::kResumeFailed,
                        R::kResumeFailed}));
  EXPECT_EQ(lifecycle.state(), S::kClosed);
  EXPECT_EQ(lifecycle.close_reason(), R::kResumeFailed);
}

TEST(SessionLifecycleTest, ResumeFailureLimitFollowsTheRules) {
  for (int max : {1, 2, 5}) {
    SCOPED_TRACE(max);
    const LifecycleRules rules{true, max};
    SessionLifecycle lifecycle = Reach(S::kReconnecting);
    for (int i = 1; i < max; ++i) {
      EXPECT_EQ(MustApply(lifecycle, E::kResumeFailed, rules), std::nullopt);
      EXPECT_EQ(lifecycle.state(), S::kReconnecting);
      EXPECT_EQ(lifecycle.failed_resumes(), i);
    }
    std::optional<Transition> last =
        MustApply(lifecycle, E::kResumeFailed, rules);
    ASSERT_TRUE(last.has_value());
    EXPECT_EQ(last->to, S::kClosed);
    EXPECT_EQ(last->reason, R::kResumeFailed);
  }
}

TEST(SessionLifecycleTest, ResumeFailuresWhileAuthenticatingDoNotCount) {
  SessionLifecycle lifecycle = Reach(S::kAuthenticating);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(MustApply(lifecycle, E::kResumeFailed), std::nullopt);
  }
  EXPECT_EQ(lifecycle.state(), S::kAuthenticating);
  EXPECT_EQ(lifecycle.failed_resumes(), 0);

  // Nothing carried over: a later Reconnecting spell gets the full budget.
  MustApply(lifecycle, E::kLoginSucceeded);
  MustApply(lifecycle, E::kTransportLost);
  MustApply(lifecycle, E::kResumeFailed);
  MustApply(lifecycle, E::kResumeFailed);
  EXPECT_EQ(lifecycle.state(), S::kReconnecting);
}

TEST(SessionLifecycleTest, SuccessfulResumeResetsTheFailureCount) {
  SessionLifecycle lifecycle = Reach(S::kReconnecting);
  MustApply(lifecycle, E::kResumeFailed);
  MustApply(lifecycle, E::kResumeFailed);
  ASSERT_EQ(lifecycle.failed_resumes(), 2);

  MustApply(lifecycle, E::kResumeSucceeded);
  EXPECT_EQ(lifecycle.state(), S::kActive);
  EXPECT_EQ(lifecycle.failed_resumes(), 0);

  // A second outage again allows max_resume_attempts - 1 failures.
  MustApply(lifecycle, E::kTransportLost);
  MustApply(lifecycle, E::kResumeFailed);
  MustApply(lifecycle, E::kResumeFailed);
  EXPECT_EQ(lifecycle.state(), S::kReconnecting);
  EXPECT_EQ(lifecycle.failed_resumes(), 2);
  MustApply(lifecycle, E::kResumeFailed);
  EXPECT_EQ(lifecycle.state(), S::kClosed);
  EXPECT_EQ(lifecycle.close_reason(), R::kResumeFailed);
}

TEST(SessionLifecycleTest, FreshLoginWhileReconnectingResetsTheFailureCount) {
  SessionLifecycle lifecycle = Reach(S::kReconnecting);
  MustApply(lifecycle, E::kResumeFailed);
  MustApply(lifecycle, E::kResumeFailed);
  ASSERT_EQ(lifecycle.failed_resumes(), 2);

  EXPECT_EQ(
      MustApply(lifecycle, E::kLoginSucceeded),
      (Transition{S::kReconnecting, S::kActive, E::kLoginSucceeded, R::kNone}));
  EXPECT_EQ(lifecycle.failed_resumes(), 0);
}

TEST(SessionLifecycleTest, InvalidEventChangesNothing) {
  // Reconnecting with a non-zero failure count, so the counter is visible.
  SessionLifecycle lifecycle = Reach(S::kReconnecting);
  MustApply(lifecycle, E::kResumeFailed);
  MustApply(lifecycle, E::kResumeFailed);
  ASSERT_EQ(lifecycle.failed_resumes(), 2);

  for (E event : {E::kLivenessOverdue, E::kLivenessLost, E::kDeadlinePassed,
                  E::kAbsorbedByResume}) {
    SCOPED_TRACE(Str(SessionEventName(event)));
    absl::StatusOr<std::optional<Transition>> result =
        lifecycle.Apply(event, kHold);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(lifecycle.state(), S::kReconnecting);
    EXPECT_EQ(lifecycle.close_reason(), R::kNone);
    EXPECT_EQ(lifecycle.failed_resumes(), 2);
  }
  // The count survived: the next failure is the third and closes.
  MustApply(lifecycle, E::kResumeFailed);
  EXPECT_EQ(lifecycle.close_reason(), R::kResumeFailed);
}

TEST(SessionLifecycleTest, InvalidEventErrorNamesEventAndState) {
  SessionLifecycle lifecycle;
  absl::StatusOr<std::optional<Transition>> result =
      lifecycle.Apply(E::kHeartbeat, kHold);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string message(result.status().message());
  EXPECT_NE(message.find("heartbeat"), std::string::npos) << message;
  EXPECT_NE(message.find("connecting"), std::string::npos) << message;
}

TEST(SessionLifecycleTest, ClosedIsTerminalForEveryEventAndReason) {
  // Close in several ways, then try every event under both rule sets.
  const std::vector<std::pair<std::vector<E>, R>> closings = {
      {{E::kTransportClosed}, R::kTransportClosed},
      {{E::kTransportConnected, E::kLoginFailed}, R::kLoginFailed},
      {{E::kTransportConnected, E::kLoginSucceeded, E::kEvict}, R::kEvicted},
      {{E::kTransportConnected, E::kLoginSucceeded, E::kTransportLost,
        E::kGraceExpired},
       R::kGraceExpired},
  };
  for (const auto& [path, reason] : closings) {
    SCOPED_TRACE(Str(CloseReasonName(reason)));
    SessionLifecycle lifecycle;
    for (E event : path) MustApply(lifecycle, event);
    ASSERT_EQ(lifecycle.state(), S::kClosed);
    ASSERT_EQ(lifecycle.close_reason(), reason);
    for (const LifecycleRules& rules : {kHold, kNoHold}) {
      for (int i = 0; i < kSessionEventCount; ++i) {
        const auto event = static_cast<E>(i);
        absl::StatusOr<std::optional<Transition>> result =
            lifecycle.Apply(event, rules);
        EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition)
            << Str(SessionEventName(event));
        EXPECT_EQ(lifecycle.state(), S::kClosed);
        EXPECT_EQ(lifecycle.close_reason(), reason);
      }
    }
  }
}

TEST(SessionLifecycleTest, ResumeWhileActiveReportsActiveToActive) {
  SessionLifecycle lifecycle = Reach(S::kActive);
  std::optional<Transition> transition =
      MustApply(lifecycle, E::kResumeSucceeded);
  ASSERT_TRUE(transition.has_value());
  EXPECT_EQ(*transition, (Transition{S::kActive, S::kActive,
                                     E::kResumeSucceeded, R::kNone}));
  EXPECT_EQ(lifecycle.state(), S::kActive);
}

TEST(SessionLifecycleTest, ResumeWhileSuspectReportsSuspectToActive) {
  SessionLifecycle lifecycle = Reach(S::kSuspect);
  EXPECT_EQ(
      MustApply(lifecycle, E::kResumeSucceeded),
      (Transition{S::kSuspect, S::kActive, E::kResumeSucceeded, R::kNone}));
}

TEST(SessionLifecycleTest, TrafficWhileActiveIsValidButNotATransition) {
  SessionLifecycle lifecycle = Reach(S::kActive);
  EXPECT_EQ(MustApply(lifecycle, E::kHeartbeat), std::nullopt);
  EXPECT_EQ(MustApply(lifecycle, E::kInboundMessage), std::nullopt);
  EXPECT_EQ(lifecycle.state(), S::kActive);
}

TEST(SessionLifecycleTest, ReconnectAttemptTransportChurnKeepsTheSessionHeld) {
  SessionLifecycle lifecycle = Reach(S::kReconnecting);
  for (E event : {E::kTransportConnected, E::kInboundMessage, E::kHeartbeat,
                  E::kTransportLost, E::kTransportConnected}) {
    EXPECT_EQ(MustApply(lifecycle, event), std::nullopt)
        << Str(SessionEventName(event));
    EXPECT_EQ(lifecycle.state(), S::kReconnecting);
  }
  EXPECT_EQ(lifecycle.failed_resumes(), 0);
}

}  // namespace
}  // namespace gss
