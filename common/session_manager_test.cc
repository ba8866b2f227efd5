#include "common/session_manager.h"

#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gss {

void PrintTo(const ClientAction& action, std::ostream* os) {
  *os << action.DebugString();
}

namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using E = SessionEvent;
using N = ClientNotice;
using R = CloseReason;
using S = SessionState;
using T = ClientActionType;

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

absl::Time At(absl::Duration since_start) { return kStart + since_start; }

ClientAction Open(int attempt) {
  return {.type = T::kOpenTransport, .attempt = attempt};
}
ClientAction CloseTransport() { return {.type = T::kCloseTransport}; }
ClientAction Login() { return {.type = T::kSendLogin}; }
ClientAction Resume(const ResumeToken& token) {
  return {.type = T::kSendResume, .token = token};
}
ClientAction Ping(absl::Time sent_at) {
  return {.type = T::kSendPing, .ping_sent_at = sent_at};
}
ClientAction Started() {
  return {.type = T::kNotify, .notice = N::kSessionStarted};
}
ClientAction Changed(S from, S to, E cause, R reason = R::kNone,
                     std::string detail = "") {
  return {.type = T::kNotify,
          .notice = N::kStateChanged,
          .transition = {from, to, cause, reason},
          .detail = std::move(detail)};
}
ClientAction Scheduled(int attempt, absl::Time at) {
  return {.type = T::kNotify,
          .attempt = attempt,
          .notice = N::kReconnectScheduled,
          .at = at};
}
ClientAction Restarted(std::string previous_instance) {
  return {.type = T::kNotify,
          .notice = N::kServerRestarted,
          .detail = std::move(previous_instance)};
}
ClientAction GaveUp() { return {.type = T::kNotify, .notice = N::kGaveUp}; }

ResumeToken Token(uint64_t sequence) {
  ResumeToken token;
  token.session = SessionId::Make(7, sequence, 0);
  token.secret[0] = static_cast<uint8_t>(sequence);
  return token;
}

WelcomeInfo Welcome(std::string instance, uint64_t token_sequence) {
  return {std::move(instance), "1.4.2", Token(token_sequence)};
}

class SessionManagerTest : public ::testing::Test {
 protected:
  // Sets the clock to `since_start` and runs the timers due then.
  void AdvanceTo(absl::Duration since_start) {
    clock_.Set(At(since_start));
    manager_.Advance();
  }
  void SetTime(absl::Duration since_start) { clock_.Set(At(since_start)); }

  // Connects and logs in at the current time; drains the actions.
  void LogIn(std::string instance = "server-a", uint64_t token_sequence = 1) {
    ASSERT_TRUE(manager_.Connect().ok());
    ASSERT_TRUE(manager_.OnTransportConnected().ok());
    ASSERT_TRUE(
        manager_.OnWelcome(Welcome(std::move(instance), token_sequence), false)
            .ok());
    ASSERT_EQ(manager_.state(), S::kActive);
    manager_.TakeActions();
  }

  ManualClock clock_{kStart};
  SessionManager manager_ = *SessionManager::Create({}, clock_);
};

TEST_F(SessionManagerTest, CreateRejectsAnInvalidPolicy) {
  ClientSessionPolicy no_heartbeat;
  no_heartbeat.heartbeat_interval = absl::ZeroDuration();
  EXPECT_EQ(SessionManager::Create(no_heartbeat, clock_).status().code(),
            absl::StatusCode::kInvalidArgument);
  ClientSessionPolicy no_attempts;
  no_attempts.max_reconnect_attempts = 0;
  EXPECT_EQ(SessionManager::Create(no_attempts, clock_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SessionManagerTest, BeforeConnectIsClosedWithNoReasonAndNoTimers) {
  EXPECT_EQ(manager_.state(), S::kClosed);
  EXPECT_EQ(manager_.close_reason(), R::kNone);
  EXPECT_EQ(manager_.reconnect_attempt(), 0);
  EXPECT_EQ(manager_.last_rtt(), std::nullopt);
  EXPECT_EQ(manager_.resume_token(), std::nullopt);
  EXPECT_EQ(manager_.next_wakeup(), absl::InfiniteFuture());
  AdvanceTo(absl::Hours(1));
  EXPECT_THAT(manager_.TakeActions(), IsEmpty());
}

TEST_F(SessionManagerTest, ConnectLogsInAndBecomesActive) {
  ASSERT_TRUE(manager_.Connect().ok());
  EXPECT_EQ(manager_.state(), S::kConnecting);
  EXPECT_THAT(manager_.TakeActions(), ElementsAre(Started(), Open(0)));

  ASSERT_TRUE(manager_.OnTransportConnected().ok());
  EXPECT_THAT(manager_.TakeActions(),
              ElementsAre(Changed(S::kConnecting, S::kAuthenticating,
                                  E::kTransportConnected),
                          Login()));

  ASSERT_TRUE(manager_.OnWelcome(Welcome("server-a", 1), false).ok());
  EXPECT_THAT(
      manager_.TakeActions(),
      ElementsAre(Changed(S::kAuthenticating, S::kActive, E::kLoginSucceeded)));
  EXPECT_EQ(manager_.state(), S::kActive);
  EXPECT_EQ(manager_.close_reason(), R::kNone);
  EXPECT_EQ(manager_.resume_token(), Token(1));
  EXPECT_EQ(manager_.instance_id(), "server-a");
  EXPECT_EQ(manager_.server_version(), "1.4.2");
}

TEST_F(SessionManagerTest, ConnectWhileRunningFails) {
  ASSERT_TRUE(manager_.Connect().ok());
  manager_.TakeActions();
  EXPECT_EQ(manager_.Connect().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(manager_.TakeActions(), IsEmpty());
  EXPECT_EQ(manager_.state(), S::kConnecting);
}

TEST_F(SessionManagerTest, HeartbeatPingsEveryTenSecondsWhileActive) {
  LogIn();
  AdvanceTo(absl::Milliseconds(9999));
  EXPECT_THAT(manager_.TakeActions(), IsEmpty());
  AdvanceTo(absl::Seconds(10));
  EXPECT_THAT(manager_.TakeActions(), ElementsAre(Ping(At(absl::Seconds(10)))));

  SetTime(absl::Milliseconds(10040));
  ASSERT_TRUE(manager_.OnPong(At(absl::Seconds(10))).ok());
  AdvanceTo(absl::Milliseconds(19999));
  EXPECT_THAT(manager_.TakeActions(), IsEmpty());
  AdvanceTo(absl::Seconds(20));
  EXPECT_THAT(manager_.TakeActions(), ElementsAre(Ping(At(absl::Seconds(20)))));
  EXPECT_EQ(manager_.state(), S::kActive);
}

TEST_F(SessionManagerTest, NoHeartbeatBeforeLogin) {
  ASSERT_TRUE(manager_.Connect().ok());
  ASSERT_TRUE(manager_.OnTransportConnected().ok());
  manager_.TakeActions();
  AdvanceTo(absl::Milliseconds(4999));
  EXPECT_THAT(manager_.TakeActions(), IsEmpty());
}

TEST_F(SessionManagerTest, PongRecordsRoundTripTime) {
  LogIn();
  EXPECT_EQ(manager_.last_rtt(), std::nullopt);
  AdvanceTo(absl::Seconds(10));
  manager_.TakeActions();
  SetTime(absl::Milliseconds(10037));
  ASSERT_TRUE(manager_.OnPong(At(absl::Seconds(10))).ok());
  EXPECT_EQ(manager_.last_rtt(), absl::Milliseconds(37));
  EXPECT_THAT(manager_.TakeActions(), IsEmpty());

  AdvanceTo(absl::Seconds(20));
  manager_.TakeActions();
  SetTime(absl::Milliseconds(20120));
  ASSERT_TRUE(manager_.OnPong(At(absl::Seconds(20))).ok());
  EXPECT_EQ(manager_.last_rtt(), absl::Milliseconds(120));
}

TEST_F(SessionManagerTest, MissedPongStartsReconnect) {
  LogIn();
  AdvanceTo(absl::Seconds(10));
  EXPECT_THAT(manager_.TakeActions(), ElementsAre(Ping(At(absl::Seconds(10)))));
  AdvanceTo(absl::Milliseconds(19999));
  EXPECT_THAT(manager_.TakeActions(), IsEmpty());
  EXPECT_EQ(manager_.state(), S::kActive);

  AdvanceTo(absl::Seconds(20));
  EXPECT_THAT(
      manager_.TakeActions(),
      ElementsAre(CloseTransport(),
                  Changed(S::kActive, S::kReconnecting, E::kLivenessLost),
                  Scheduled(1, At(absl::Seconds(25)))));
  EXPECT_EQ(manager_.state(), S::kReconnecting);
  EXPECT_EQ(manager_.close_reason(), R::kNone);
  // A pong for the abandoned transport's ping comes too late.
  EXPECT_EQ(manager_.OnPong(At(absl::Seconds(10))).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(SessionManagerTest, InboundTrafficDoesNotReplaceThePong) {
  LogIn();
  AdvanceTo(absl::Seconds(10));
  manager_.TakeActions();
  SetTime(absl::Seconds(15));
  ASSERT_TRUE(manager_.OnInboundMessage().ok());
  SetTime(absl::Milliseconds(19999));
  ASSERT_TRUE(manager_.OnInboundMessage().ok());
  EXPECT_THAT(manager_.TakeActions(), IsEmpty());
  AdvanceTo(absl::Seconds(20));
  EXPECT_EQ(manager_.state(), S::kReconnecting);
}

TEST_F(SessionManagerTest, UnexpectedTransportLossStartsReconnectImmediately) {
  LogIn();
  SetTime(absl::Seconds(3));
  ASSERT_TRUE(manager_.OnTransportLost().ok());
  EXPECT_EQ(manager_.state(), S::kReconnecting);
  // The transport is already gone: nothing to close.
  EXPECT_THAT(
      manager_.TakeActions(),
      ElementsAre(Changed(S::kActive, S::kReconnecting, E::kTransportLost),
                  Scheduled(1, At(absl::Seconds(8)))));
  // The heartbeat stopped with the transport.
  AdvanceTo(absl::Milliseconds(7999));
  EXPECT_THAT(manager_.TakeActions(), IsEmpty());
  EXPECT_EQ(manager_.reconnect_attempt(), 0);
  AdvanceTo(absl::Seconds(8));
  EXPECT_THAT(manager_.TakeActions(), ElementsAre(Open(1)));
  EXPECT_EQ(manager_.reconnect_attempt(), 1);
}

TEST_F(SessionManagerTest, ReconnectResumesWithTokenAndReturnsToActive) {
  LogIn("server-a", 1);
  ASSERT_TRUE(manager_.OnTransportLost().ok());
  AdvanceTo(absl::Seconds(5));
  manager_.TakeActions();

  SetTime(absl::Seconds(6));
  ASSERT_TRUE(manager_.OnTransportConnected().ok());
  // The attempt's transport changes no state.
  EXPECT_THAT(manager_.TakeActions(), ElementsAre(Resume(Token(1))));
  EXPECT_EQ(manager_.state(), S::kReconnecting);

  ASSERT_TRUE(manager_.OnWelcome(Welcome("server-a", 2), true).ok());
  // Same instance: no restart notice.
  EXPECT_THAT(
      manager_.TakeActions(),
      ElementsAre(Changed(S::kReconnecting, S::kActive, E::kResumeSucceeded)));
  EXPECT_EQ(manager_.reconnect_attempt(), 0);
  EXPECT_EQ(manager_.resume_token(), Token(2));

  // The heartbeat restarts from the welcome.
  AdvanceTo(absl::Milliseconds(15999));
  EXPECT_THAT(manager_.TakeActions(), IsEmpty());
  AdvanceTo(absl::Seconds(16));
  EXPECT_THAT(manager_.TakeActions(), ElementsAre(Ping(At(absl::Seconds(16)))));
}

TEST_F(SessionManagerTest, TimedOutAttemptsAreFiveSecondsApartThenGiveUp) {
  LogIn();
  ASSERT_TRUE(manager_.OnTransportLost().ok());
  manager_.TakeActions();

  AdvanceTo(absl::Seconds(5));
  EXPECT_THAT(manager_.TakeActions(), ElementsAre(Open(1)));
  AdvanceTo(absl::Milliseconds(9999));
  EXPECT_THAT(manager_.TakeActions(), IsEmpty());
  AdvanceTo(absl::Seconds(10));
  EXPECT_THAT(
      manager_.TakeActions(),
      ElementsAre(CloseTransport(), Scheduled(2, At(absl::Seconds(15)))));
  EXPECT_EQ(manager_.state(), S::kReconnecting);

  AdvanceTo(absl::Seconds(15));
  EXPECT_THAT(manager_.TakeActions(), ElementsAre(Open(2)));
  AdvanceTo(absl::Seconds(20));
  EXPECT_THAT(
      manager_.TakeActions(),
      ElementsAre(CloseTransport(), Scheduled(3, At(absl::Seconds(25)))));

  AdvanceTo(absl::Seconds(25));
  EXPECT_THAT(manager_.TakeActions(), ElementsAre(Open(3)));
  EXPECT_EQ(manager_.reconnect_attempt(), 3);
  AdvanceTo(absl::Seconds(30));
  EXPECT_THAT(manager_.TakeActions(),
              ElementsAre(CloseTransport(),
                          Changed(S::kReconnecting, S::kClosed,
                                  E::kResumeFailed, R::kResumeFailed),
                          GaveUp()));
  EXPECT_EQ(manager_.state(), S::kClosed);
  EXPECT_EQ(manager_.close_reason(), R::kResumeFailed);
  EXPECT_EQ(manager_.next_wakeup(), absl::InfiniteFuture());
  AdvanceTo(absl::Hours(1));
  EXPECT_THAT(manager_.TakeActions(), IsEmpty());
}

TEST_F(SessionManagerTest, LostAttemptTransportsAlsoUseUpAttempts) {
  LogIn();
  ASSERT_TRUE(manager_.OnTransportLost().ok());
  manager_.TakeActions();
  for (int attempt = 1; attempt <= 3; ++attempt) {
    AdvanceTo(absl::Seconds(5 * attempt));
    EXPECT_THAT(manager_.TakeActions(), ElementsAre(Open(attempt)));
    // A transport that connects but then breaks before the welcome fails the
    // attempt just as one that never opens.
    if (attempt == 2) {
      ASSERT_TRUE(manager_.OnTransportConnected().ok());
      EXPECT_THAT(manager_.TakeActions(), ElementsAre(Resume(Token(1))));
    }
    ASSERT_TRUE(manager_.OnTransportLost().ok());
    if (attempt < 3) {
      EXPECT_THAT(manager_.TakeActions(),
                  ElementsAre(Scheduled(attempt + 1,
                                        At(absl::Seconds(5 * attempt + 5)))));
    }
  }
  EXPECT_THAT(manager_.TakeActions(),
              ElementsAre(Changed(S::kReconnecting, S::kClosed,
                                  E::kResumeFailed, R::kResumeFailed),
                          GaveUp()));
  EXPECT_EQ(manager_.close_reason(), R::kResumeFailed);
}

TEST_F(SessionManagerTest, ServerRestartIsDetectedAfterResumeRejected) {
  LogIn("server-a", 1);
  ASSERT_TRUE(manager_.OnTransportLost().ok());
  AdvanceTo(absl::Seconds(5));
  ASSERT_TRUE(manager_.OnTransportConnected().ok());
  manager_.TakeActions();

  // The new process does not know the token: log in afresh on the same
  // transport.
  ASSERT_TRUE(manager_.OnResumeRejected().ok());
  EXPECT_THAT(manager_.TakeActions(), ElementsAre(Login()));
  EXPECT_EQ(manager_.resume_token(), std::nullopt);
  EXPECT_EQ(manager_.state(), S::kReconnecting);

  ASSERT_TRUE(manager_.OnWelcome(Welcome("server-b", 9), false).ok());
  EXPECT_THAT(
      manager_.TakeActions(),
      ElementsAre(Changed(S::kReconnecting, S::kActive, E::kLoginSucceeded),
                  Restarted("server-a")));
  EXPECT_EQ(manager_.instance_id(), "server-b");
  EXPECT_EQ(manager_.resume_token(), Token(9));
}

TEST_F(SessionManagerTest, ResumeRejectedDoesNotUseUpAnAttempt) {
  LogIn();
  ASSERT_TRUE(manager_.OnTransportLost().ok());
  AdvanceTo(absl::Seconds(5));
  ASSERT_TRUE(manager_.OnTransportLost().ok());
  AdvanceTo(absl::Seconds(10));
  ASSERT_TRUE(manager_.OnTransportLost().ok());
  AdvanceTo(absl::Seconds(15));
  manager_.TakeActions();

  // The last attempt: its resume is refused, the login that follows is the
  // same attempt and may still succeed.
  ASSERT_TRUE(manager_.OnTransportConnected().ok());
  ASSERT_TRUE(manager_.OnResumeRejected().ok());
  EXPECT_THAT(manager_.TakeActions(), ElementsAre(Resume(Token(1)), Login()));
  EXPECT_EQ(manager_.state(), S::kReconnecting);
  ASSERT_TRUE(manager_.OnWelcome(Welcome("server-b", 2), false).ok());
  EXPECT_EQ(manager_.state(), S::kActive);
}

TEST_F(SessionManagerTest, ResumeRejectedOnFirstConnectLogsInAfresh) {
  // A token held from an earlier session that gave up.
  LogIn("server-a", 1);
  ASSERT_TRUE(manager_.OnTransportLost().ok());
  for (int attempt = 1; attempt <= 3; ++attempt) {
    AdvanceTo(absl::Seconds(5 * attempt));
    ASSERT_TRUE(manager_.OnTransportLost().ok());
  }
  ASSERT_EQ(manager_.close_reason(), R::kResumeFailed);
  manager_.TakeActions();

  ASSERT_TRUE(manager_.Connect().ok());
  ASSERT_TRUE(manager_.OnTransportConnected().ok());
  EXPECT_THAT(manager_.TakeActions(),
              ElementsAre(Started(), Open(0),
                          Changed(S::kConnecting, S::kAuthenticating,
                                  E::kTransportConnected),
                          Resume(Token(1))));
  ASSERT_TRUE(manager_.OnResumeRejected().ok());
  EXPECT_THAT(manager_.TakeActions(), ElementsAre(Login()));
  EXPECT_EQ(manager_.state(), S::kAuthenticating);
  ASSERT_TRUE(manager_.OnWelcome(Welcome("server-b", 2), false).ok());
  EXPECT_THAT(
      manager_.TakeActions(),
      ElementsAre(Changed(S::kAuthenticating, S::kActive, E::kLoginSucceeded),
                  Restarted("server-a")));
}

TEST_F(SessionManagerTest, LoginRejectedClosesTheSession) {
  ASSERT_TRUE(manager_.Connect().ok());
  ASSERT_TRUE(manager_.OnTransportConnected().ok());
  manager_.TakeActions();
  ASSERT_TRUE(manager_.OnLoginRejected("bad password").ok());
  EXPECT_THAT(
      manager_.TakeActions(),
      ElementsAre(CloseTransport(),
                  Changed(S::kAuthenticating, S::kClosed, E::kLoginFailed,
                          R::kLoginFailed, "bad password")));
  EXPECT_EQ(manager_.state(), S::kClosed);
  EXPECT_EQ(manager_.close_reason(), R::kLoginFailed);
  EXPECT_EQ(manager_.next_wakeup(), absl::InfiniteFuture());
}

TEST_F(SessionManagerTest, FirstConnectTimesOutAfterAttemptTimeout) {
  ASSERT_TRUE(manager_.Connect().ok());
  ASSERT_TRUE(manager_.OnTransportConnected().ok());
  manager_.TakeActions();
  AdvanceTo(absl::Milliseconds(4999));
  EXPECT_THAT(manager_.TakeActions(), IsEmpty());
  AdvanceTo(absl::Seconds(5));
  EXPECT_THAT(
      manager_.TakeActions(),
      ElementsAre(CloseTransport(), Changed(S::kAuthenticating, S::kClosed,
                                            E::kDeadlinePassed, R::kTimedOut)));
  EXPECT_EQ(manager_.close_reason(), R::kTimedOut);
}

TEST_F(SessionManagerTest, TransportLossBeforeLoginClosesWithoutReconnect) {
  ASSERT_TRUE(manager_.Connect().ok());
  manager_.TakeActions();
  ASSERT_TRUE(manager_.OnTransportLost().ok());
  EXPECT_THAT(manager_.TakeActions(),
              ElementsAre(Changed(S::kConnecting, S::kClosed, E::kTransportLost,
                                  R::kTransportClosed)));
  EXPECT_EQ(manager_.next_wakeup(), absl::InfiniteFuture());
}

TEST_F(SessionManagerTest, DisconnectClosesStopsTimersAndDropsToken) {
  LogIn();
  AdvanceTo(absl::Seconds(10));
  manager_.TakeActions();
  SetTime(absl::Seconds(12));
  ASSERT_TRUE(manager_.Disconnect().ok());
  EXPECT_THAT(manager_.TakeActions(),
              ElementsAre(CloseTransport(),
                          Changed(S::kActive, S::kClosed, E::kTransportClosed,
                                  R::kTransportClosed)));
  EXPECT_EQ(manager_.next_wakeup(), absl::InfiniteFuture());
  AdvanceTo(absl::Minutes(5));
  EXPECT_THAT(manager_.TakeActions(), IsEmpty());
  EXPECT_EQ(manager_.resume_token(), std::nullopt);

  // The server ended the session, so the next one logs in afresh.
  ASSERT_TRUE(manager_.Connect().ok());
  ASSERT_TRUE(manager_.OnTransportConnected().ok());
  EXPECT_EQ(manager_.TakeActions().back(), Login());
}

TEST_F(SessionManagerTest, DisconnectWhileWaitingToReconnectClosesNoTransport) {
  LogIn();
  ASSERT_TRUE(manager_.OnTransportLost().ok());
  manager_.TakeActions();
  ASSERT_TRUE(manager_.Disconnect().ok());
  EXPECT_THAT(manager_.TakeActions(),
              ElementsAre(Changed(S::kReconnecting, S::kClosed,
                                  E::kTransportClosed, R::kTransportClosed)));
  AdvanceTo(absl::Seconds(5));
  EXPECT_THAT(manager_.TakeActions(), IsEmpty());
}

TEST_F(SessionManagerTest, NextWakeupIsTheEarliestPendingTimer) {
  ASSERT_TRUE(manager_.Connect().ok());
  EXPECT_EQ(manager_.next_wakeup(), At(absl::Seconds(5)));  // Login deadline.
  SetTime(absl::Seconds(1));
  ASSERT_TRUE(manager_.OnTransportConnected().ok());
  ASSERT_TRUE(manager_.OnWelcome(Welcome("server-a", 1), false).ok());
  EXPECT_EQ(manager_.next_wakeup(), At(absl::Seconds(11)));  // Heartbeat.
  AdvanceTo(absl::Seconds(11));
  EXPECT_EQ(manager_.next_wakeup(), At(absl::Seconds(21)));  // Pong deadline.
  SetTime(absl::Seconds(12));
  ASSERT_TRUE(manager_.OnPong(At(absl::Seconds(11))).ok());
  EXPECT_EQ(manager_.next_wakeup(), At(absl::Seconds(21)));  // Heartbeat.
  SetTime(absl::Seconds(14));
  ASSERT_TRUE(manager_.OnTransportLost().ok());
  EXPECT_EQ(manager_.next_wakeup(), At(absl::Seconds(19)));  // Attempt.
  AdvanceTo(absl::Seconds(19));
  EXPECT_EQ(manager_.next_wakeup(), At(absl::Seconds(24)));  // Its deadline.
  SetTime(absl::Seconds(20));
  ASSERT_TRUE(manager_.OnTransportConnected().ok());
  ASSERT_TRUE(manager_.OnWelcome(Welcome("server-a", 2), true).ok());
  EXPECT_EQ(manager_.next_wakeup(), At(absl::Seconds(30)));
  ASSERT_TRUE(manager_.Disconnect().ok());
  EXPECT_EQ(manager_.next_wakeup(), absl::InfiniteFuture());
}

TEST_F(SessionManagerTest, NextPingWaitsForThePongInFlight) {
  ClientSessionPolicy policy;
  policy.pong_timeout = absl::Seconds(15);
  SessionManager manager = *SessionManager::Create(policy, clock_);
  ASSERT_TRUE(manager.Connect().ok());
  ASSERT_TRUE(manager.OnTransportConnected().ok());
  ASSERT_TRUE(manager.OnWelcome(Welcome("server-a", 1), false).ok());
  manager.TakeActions();

  clock_.Set(At(absl::Seconds(10)));
  manager.Advance();
  EXPECT_THAT(manager.TakeActions(), ElementsAre(Ping(At(absl::Seconds(10)))));
  clock_.Set(At(absl::Seconds(20)));
  manager.Advance();
  EXPECT_THAT(manager.TakeActions(), IsEmpty());
  EXPECT_EQ(manager.next_wakeup(), At(absl::Seconds(25)));

  // The heartbeat is overdue once the pong is in, so it goes at once.
  clock_.Set(At(absl::Seconds(22)));
  ASSERT_TRUE(manager.OnPong(At(absl::Seconds(10))).ok());
  EXPECT_EQ(manager.next_wakeup(), At(absl::Seconds(20)));
  manager.Advance();
  EXPECT_THAT(manager.TakeActions(), ElementsAre(Ping(At(absl::Seconds(22)))));
}

TEST_F(SessionManagerTest, ZeroReconnectDelayOpensAttemptsBackToBack) {
  ClientSessionPolicy policy;
  policy.reconnect_delay = absl::ZeroDuration();
  SessionManager manager = *SessionManager::Create(policy, clock_);
  ASSERT_TRUE(manager.Connect().ok());
  ASSERT_TRUE(manager.OnTransportConnected().ok());
  ASSERT_TRUE(manager.OnWelcome(Welcome("server-a", 1), false).ok());
  manager.TakeActions();

  ASSERT_TRUE(manager.OnTransportLost().ok());
  EXPECT_EQ(manager.next_wakeup(), kStart);
  manager.Advance();
  EXPECT_THAT(
      manager.TakeActions(),
      ElementsAre(Changed(S::kActive, S::kReconnecting, E::kTransportLost),
                  Scheduled(1, kStart), Open(1)));
  // A timed-out attempt is followed by the next in the same Advance().
  clock_.Set(At(absl::Seconds(5)));
  manager.Advance();
  EXPECT_THAT(manager.TakeActions(),
              ElementsAre(CloseTransport(), Scheduled(2, At(absl::Seconds(5))),
                          Open(2)));
}

// Checks that an input was refused with `code` and left no trace.
class IgnoredInputTest : public SessionManagerTest {
 protected:
  void ExpectIgnored(absl::Status status, absl::StatusCode code) {
    const S state = manager_.state();
    const R reason = manager_.close_reason();
    const absl::Time wakeup = manager_.next_wakeup();
    const int attempt = manager_.reconnect_attempt();
    EXPECT_EQ(status.code(), code) << status;
    EXPECT_THAT(manager_.TakeActions(), IsEmpty());
    EXPECT_EQ(manager_.state(), state);
    EXPECT_EQ(manager_.close_reason(), reason);
    EXPECT_EQ(manager_.next_wakeup(), wakeup);
    EXPECT_EQ(manager_.reconnect_attempt(), attempt);
  }
  static constexpr absl::StatusCode kWrongState =
      absl::StatusCode::kFailedPrecondition;
};

TEST_F(IgnoredInputTest, BeforeConnect) {
  ExpectIgnored(manager_.Disconnect(), kWrongState);
  ExpectIgnored(manager_.OnTransportConnected(), kWrongState);
  ExpectIgnored(manager_.OnTransportLost(), kWrongState);
  ExpectIgnored(manager_.OnWelcome(Welcome("server-a", 1), false), kWrongState);
  ExpectIgnored(manager_.OnLoginRejected("no"), kWrongState);
  ExpectIgnored(manager_.OnResumeRejected(), kWrongState);
  ExpectIgnored(manager_.OnPong(kStart), kWrongState);
  ExpectIgnored(manager_.OnInboundMessage(), kWrongState);
  EXPECT_EQ(manager_.close_reason(), R::kNone);
}

TEST_F(IgnoredInputTest, WhileConnecting) {
  ASSERT_TRUE(manager_.Connect().ok());
  manager_.TakeActions();
  ExpectIgnored(manager_.OnWelcome(Welcome("server-a", 1), false), kWrongState);
  ExpectIgnored(manager_.OnLoginRejected("no"), kWrongState);
  ExpectIgnored(manager_.OnResumeRejected(), kWrongState);
  ExpectIgnored(manager_.OnPong(kStart), kWrongState);
  ExpectIgnored(manager_.OnInboundMessage(), kWrongState);
}

TEST_F(IgnoredInputTest, WhileAuthenticating) {
  ASSERT_TRUE(manager_.Connect().ok());
  ASSERT_TRUE(manager_.OnTransportConnected().ok());
  manager_.TakeActions();
  ExpectIgnored(manager_.OnTransportConnected(), kWrongState);
  // A login is pending, not a resume.
  ExpectIgnored(manager_.OnWelcome(Welcome("server-a", 1), true), kWrongState);
  ExpectIgnored(manager_.OnResumeRejected(), kWrongState);
  ExpectIgnored(manager_.OnPong(kStart), kWrongState);
  EXPECT_TRUE(manager_.OnInboundMessage().ok());
  EXPECT_THAT(manager_.TakeActions(), IsEmpty());
}

TEST_F(IgnoredInputTest, WhileActive) {
  LogIn();
  ExpectIgnored(manager_.Connect(), kWrongState);
  ExpectIgnored(manager_.OnTransportConnected(), kWrongState);
  ExpectIgnored(manager_.OnWelcome(Welcome("server-b", 2), false), kWrongState);
  ExpectIgnored(manager_.OnLoginRejected("no"), kWrongState);
  ExpectIgnored(manager_.OnResumeRejected(), kWrongState);
  ExpectIgnored(manager_.OnPong(kStart), kWrongState);  // No ping in flight.
  AdvanceTo(absl::Seconds(10));
  manager_.TakeActions();
  ExpectIgnored(manager_.OnPong(At(absl::Seconds(9))),
                absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(manager_.last_rtt(), std::nullopt);
  EXPECT_EQ(manager_.instance_id(), "server-a");
}

TEST_F(IgnoredInputTest, WhileWaitingToReconnect) {
  LogIn();
  ASSERT_TRUE(manager_.OnTransportLost().ok());
  manager_.TakeActions();
  ExpectIgnored(manager_.Connect(), kWrongState);
  ExpectIgnored(manager_.OnTransportLost(), kWrongState);
  ExpectIgnored(manager_.OnTransportConnected(), kWrongState);
  ExpectIgnored(manager_.OnWelcome(Welcome("server-a", 2), true), kWrongState);
  ExpectIgnored(manager_.OnResumeRejected(), kWrongState);
  ExpectIgnored(manager_.OnPong(kStart), kWrongState);
  ExpectIgnored(manager_.OnInboundMessage(), kWrongState);
}

TEST_F(IgnoredInputTest, AfterClose) {
  LogIn();
  ASSERT_TRUE(manager_.Disconnect().ok());
  manager_.TakeActions();
  ExpectIgnored(manager_.Disconnect(), kWrongState);
  ExpectIgnored(manager_.OnTransportLost(), kWrongState);
  ExpectIgnored(manager_.OnPong(kStart), kWrongState);
  ExpectIgnored(manager_.OnInboundMessage(), kWrongState);
  EXPECT_EQ(manager_.close_reason(), R::kTransportClosed);
}

}  // namespace
}  // namespace gss
