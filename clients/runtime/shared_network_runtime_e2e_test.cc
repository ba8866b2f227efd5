// End-to-end: SharedNetworkRuntime against the real gateway and session
// service: login, and stale connection recovery with its events and timing.
#include <signal.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "clients/runtime/shared_network_runtime.h"
#include "gtest/gtest.h"
#include "session_service/test_jwt.h"
#include "tests/support/cluster.h"
#include "tests/support/process.h"
#include "tests/support/test_macros.h"

namespace gss::client {
namespace {

using ::gss::testing::Cluster;
using ::gss::testing::ClusterOptions;

// Every event the runtime raised, in order, with waits that have deadlines.
class EventLog {
 public:
  std::function<void(const RuntimeEvent&)> Sink() {
    return [this](const RuntimeEvent& event) {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(event);
      cv_.notify_all();
    };
  }

  // The first event at index >= `from` matching `match`; its index, or -1
  // after `timeout`. Advances nothing: callers keep their own cursor.
  int WaitFor(size_t from,
              const std::function<bool(const RuntimeEvent&)>& match,
              absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    const auto deadline =
        std::chrono::steady_clock::now() + absl::ToChronoMilliseconds(timeout);
    for (size_t i = from;;) {
      for (; i < events_.size(); ++i) {
        if (match(events_[i])) return static_cast<int>(i);
      }
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout &&
          i == events_.size()) {
        return -1;
      }
    }
  }

  RuntimeEvent At(int index) {
    std::lock_guard<std::mutex> lock(mu_);
    return events_.at(index);
  }

  std::string Dump() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out;
    const absl::Time start = events_.empty() ? absl::Now() : events_[0].at;
    for (const RuntimeEvent& event : events_) {
      absl::StrAppend(&out, "  +", absl::FormatDuration(event.at - start), " ",
                      event.ToString(), "\n");
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<RuntimeEvent> events_;
};

std::function<bool(const RuntimeEvent&)> Is(RuntimeEventType type) {
  return [type](const RuntimeEvent& e) { return e.type == type; };
}
std::function<bool(const RuntimeEvent&)> EntersState(SessionState to) {
  return [to](const RuntimeEvent& e) {
    return e.type == RuntimeEventType::kStateChanged && e.to == to;
  };
}
std::function<bool(const RuntimeEvent&)> WelcomeResumed(bool resumed) {
  return [resumed](const RuntimeEvent& e) {
    return e.type == RuntimeEventType::kWelcome &&
           e.message.welcome().resumed() == resumed;
  };
}

// Scheduling slack on a loaded two-core machine.
constexpr absl::Duration kSlack = absl::Milliseconds(400);
constexpr absl::Duration kWait = absl::Seconds(10);
constexpr absl::Duration kLivenessAckTimeout = absl::Milliseconds(50);

class RuntimeE2eTest : public ::testing::TestWithParam<TransportKind> {
 protected:
  void SetUp() override {
    ClusterOptions options;
    // A shot reaches across the whole 64-cell grid.
    options.service_flags = {"--reconnect_grace=20s", "--movement_tick=50ms",
                             "--advance_interval=10ms", "--shot_range=100"};
    // The gateway answers Pings itself while the service acknowledges its
    // reports; short figures so that a frozen service costs at most one
    // more heartbeat interval of the fast policy to notice.
    options.gateway_flags = {
        "--liveness_report_interval=20ms",
        "--liveness_ack_timeout=" + absl::FormatDuration(kLivenessAckTimeout)};
    ASSERT_OK_AND_ASSIGN(cluster_, Cluster::Start(options));
  }
  void TearDown() override {
    // GSS_RUNTIME_TEST_EVENTS=1 prints the timeline of passing tests too.
    if (HasFailure() || std::getenv("GSS_RUNTIME_TEST_EVENTS") != nullptr) {
      std::fprintf(stderr, "events:\n%s", log_.Dump().c_str());
    }
    runtime_.reset();
  }

  // Short policy numbers so that every flow takes well under a second.
  ClientSessionPolicy FastPolicy() {
    ClientSessionPolicy policy;
    policy.heartbeat_interval = absl::Milliseconds(200);
    policy.pong_timeout = absl::Milliseconds(200);
    policy.reconnect_delay = absl::Milliseconds(200);
    policy.max_reconnect_attempts = 3;
    policy.attempt_timeout = absl::Seconds(2);
    return policy;
  }

  void StartRuntime(ClientSessionPolicy policy, const std::string& name) {
    runtime_ = std::make_unique<SharedNetworkRuntime>();
    ASSERT_OK(
        runtime_->Start({.port = cluster_->game_port(),
                         .transport = GetParam(),
                         .credential = name,
                         .policy = policy,
                         .udp_retransmit_interval = absl::Milliseconds(200),
                         .on_event = log_.Sink()}));
  }

  // Waits for the first login's welcome; returns its index.
  int AwaitLogin() {
    const int index = log_.WaitFor(0, WelcomeResumed(false), kWait);
    EXPECT_GE(index, 0) << "no welcome";
    return index;
  }

  std::unique_ptr<Cluster> cluster_;
  EventLog log_;
  std::unique_ptr<SharedNetworkRuntime> runtime_;
};

TEST_P(RuntimeE2eTest, LogsInAndRaisesWelcomeThenMovesAndPings) {
  ASSERT_NO_FATAL_FAILURE(StartRuntime(FastPolicy(), "alice"));
  ASSERT_EQ(log_.WaitFor(0, Is(RuntimeEventType::kSessionStarted), kWait), 0);
  const int welcome_index = AwaitLogin();
  ASSERT_GE(welcome_index, 0);
  const RuntimeEvent welcome = log_.At(welcome_index);
  EXPECT_FALSE(welcome.message.welcome().session_id().empty());
  EXPECT_EQ(welcome.message.welcome().display_name(), "alice");
  EXPECT_GT(welcome.message.welcome().world_config().grid_size(), 0);
  EXPECT_FALSE(welcome.message.welcome().server_info().instance_id().empty());
  // Connecting -> Authenticating -> Active, then the welcome.
  const int authenticating =
      log_.WaitFor(0, EntersState(SessionState::kAuthenticating), kWait);
  const int active = log_.WaitFor(0, EntersState(SessionState::kActive), kWait);
  EXPECT_LT(authenticating, active);

  runtime_->Move(1, 0);
  const int move =
      log_.WaitFor(welcome_index, Is(RuntimeEventType::kMoveResult), kWait);
  ASSERT_GE(move, 0);
  EXPECT_TRUE(log_.At(move).message.move_result().accepted())
      << log_.At(move).ToString();

  runtime_->Ping();
  const int user_pong = log_.WaitFor(
      welcome_index,
      [](const RuntimeEvent& e) {
        return e.type == RuntimeEventType::kPong && !e.heartbeat;
      },
      kWait);
  EXPECT_GE(user_pong, 0);
  // Heartbeats run every 200 ms and are answered.
  const int heartbeat = log_.WaitFor(
      welcome_index,
      [](const RuntimeEvent& e) {
        return e.type == RuntimeEventType::kPong && e.heartbeat;
      },
      kWait);
  ASSERT_GE(heartbeat, 0);
  const absl::Duration first_ping_after =
      log_.At(heartbeat).at - log_.At(welcome_index).at;
  EXPECT_GE(first_ping_after, absl::Milliseconds(190));
  EXPECT_LE(first_ping_after, absl::Milliseconds(200) + kSlack);

  runtime_->Stop();
  EXPECT_GE(log_.WaitFor(0, Is(RuntimeEventType::kStopped), kWait), 0);
}

TEST_P(RuntimeE2eTest, GatewayKilledReconnectsAfterDelayAndResumes) {
  ClientSessionPolicy policy = FastPolicy();
  policy.max_reconnect_attempts = 20;  // Room for the gateway's restart.
  ASSERT_NO_FATAL_FAILURE(StartRuntime(policy, "bob"));
  const int login = AwaitLogin();
  ASSERT_GE(login, 0);
  runtime_->Move(0, 1);
  const int move =
      log_.WaitFor(login, Is(RuntimeEventType::kMoveResult), kWait);
  ASSERT_GE(move, 0);
  const game::v1::Position position =
      log_.At(move).message.move_result().position();

  cluster_->KillGateway();
  // TCP sees the reset at once; UDP on its next ping (refused or unanswered).
  const int reconnecting =
      log_.WaitFor(move, EntersState(SessionState::kReconnecting), kWait);
  ASSERT_GE(reconnecting, 0);
  const int scheduled = log_.WaitFor(
      reconnecting, Is(RuntimeEventType::kReconnectScheduled), kWait);
  ASSERT_GE(scheduled, 0);
  EXPECT_EQ(log_.At(scheduled).attempt, 1);
  // Scheduled one delay after the loss (the event's own time is read a few
  // microseconds after the manager's).
  const absl::Duration delay =
      log_.At(scheduled).scheduled_at - log_.At(reconnecting).at;
  EXPECT_LE(delay, policy.reconnect_delay);
  EXPECT_GE(delay, policy.reconnect_delay - absl::Milliseconds(5));
  ASSERT_OK(cluster_->StartGateway());

  const int resumed = log_.WaitFor(reconnecting, WelcomeResumed(true), kWait);
  ASSERT_GE(resumed, 0);
  const game::v1::Welcome welcome = log_.At(resumed).message.welcome();
  EXPECT_EQ(welcome.session_id(),
            log_.At(login).message.welcome().session_id());
  EXPECT_EQ(welcome.position().x(), position.x());
  EXPECT_EQ(welcome.position().y(), position.y());
  // No attempt opened before its delay: the first welcome is at least one
  // delay after the loss.
  EXPECT_GE(log_.At(resumed).at - log_.At(reconnecting).at,
            policy.reconnect_delay);
  EXPECT_LT(log_.WaitFor(reconnecting, Is(RuntimeEventType::kServerRestarted),
                         absl::ZeroDuration()),
            0);
  EXPECT_GE(log_.WaitFor(resumed, EntersState(SessionState::kActive), kWait),
            0);
}

TEST_P(RuntimeE2eTest, StoppedPongsStartReconnectAndResume) {
  ClientSessionPolicy policy = FastPolicy();
  policy.max_reconnect_attempts = 10;
  policy.attempt_timeout = absl::Milliseconds(500);
  ASSERT_NO_FATAL_FAILURE(StartRuntime(policy, "carol"));
  const int login = AwaitLogin();
  ASSERT_GE(login, 0);
  // Let a heartbeat round trip complete first.
  const int pong = log_.WaitFor(login, Is(RuntimeEventType::kPong), kWait);
  ASSERT_GE(pong, 0);

  ASSERT_OK(cluster_->service()->Signal(SIGSTOP));
  const int lost = log_.WaitFor(
      pong,
      [](const RuntimeEvent& e) {
        return e.type == RuntimeEventType::kStateChanged &&
               e.to == SessionState::kReconnecting &&
               e.cause == SessionEvent::kLivenessLost;
      },
      kWait);
  ASSERT_OK(cluster_->service()->Signal(SIGCONT));
  ASSERT_GE(lost, 0);
  // The next ping went out one interval after the last pong's ping. The
  // gateway may still answer it, if the freeze came less than its liveness
  // ack timeout after the service last acknowledged a report; the ping after
  // that goes to the frozen service and is missed for one pong timeout: at
  // most two intervals + timeout after that pong.
  ASSERT_LT(kLivenessAckTimeout + absl::Milliseconds(20),
            policy.heartbeat_interval);
  const absl::Duration detect = log_.At(lost).at - log_.At(pong).at;
  EXPECT_GE(detect, policy.pong_timeout);
  EXPECT_LE(detect,
            2 * policy.heartbeat_interval + policy.pong_timeout + kSlack);

  const int resumed = log_.WaitFor(lost, WelcomeResumed(true), kWait);
  ASSERT_GE(resumed, 0);
  EXPECT_EQ(log_.At(resumed).message.welcome().session_id(),
            log_.At(login).message.welcome().session_id());
}

TEST_P(RuntimeE2eTest, ServiceRestartRaisesServerRestartedAndLogsInAfresh) {
  ClientSessionPolicy policy = FastPolicy();
  policy.max_reconnect_attempts = 20;
  ASSERT_NO_FATAL_FAILURE(StartRuntime(policy, "dave"));
  const int login = AwaitLogin();
  ASSERT_GE(login, 0);
  const std::string old_instance =
      log_.At(login).message.welcome().server_info().instance_id();

  ASSERT_OK(cluster_->StopService().status());
  ASSERT_OK(cluster_->StartService());

  const int rejected =
      log_.WaitFor(login, Is(RuntimeEventType::kResumeRejected), kWait);
  ASSERT_GE(rejected, 0);
  const int fresh = log_.WaitFor(rejected, WelcomeResumed(false), kWait);
  ASSERT_GE(fresh, 0);
  const int restarted =
      log_.WaitFor(fresh, Is(RuntimeEventType::kServerRestarted), kWait);
  ASSERT_GE(restarted, 0);
  const RuntimeEvent event = log_.At(restarted);
  EXPECT_EQ(event.previous_instance_id, old_instance);
  EXPECT_EQ(event.instance_id,
            log_.At(fresh).message.welcome().server_info().instance_id());
  EXPECT_NE(event.instance_id, old_instance);
  EXPECT_GE(log_.WaitFor(fresh, EntersState(SessionState::kActive), kWait), 0);
}

TEST_P(RuntimeE2eTest, ServiceCrashIsHeardAtOnceAndEndsInAFreshLogin) {
  ClientSessionPolicy policy = FastPolicy();
  // Slower heartbeats than the recovery below: the runtime must learn of
  // the crash from the gateway, not from a missed pong.
  policy.heartbeat_interval = absl::Seconds(30);
  policy.pong_timeout = absl::Seconds(30);
  policy.max_reconnect_attempts = 20;
  ASSERT_NO_FATAL_FAILURE(StartRuntime(policy, "erin"));
  const int login = AwaitLogin();
  ASSERT_GE(login, 0);
  const std::string old_instance =
      log_.At(login).message.welcome().server_info().instance_id();

  cluster_->KillService();
  const int told = log_.WaitFor(
      login,
      [](const RuntimeEvent& e) {
        return e.type == RuntimeEventType::kDisconnect &&
               e.message.disconnect().reason() == "service_unavailable";
      },
      kWait);
  ASSERT_GE(told, 0);
  EXPECT_GE(log_.WaitFor(told, EntersState(SessionState::kReconnecting), kWait),
            0);
  ASSERT_OK(cluster_->StartService());
  const int fresh = log_.WaitFor(told, WelcomeResumed(false), kWait);
  ASSERT_GE(fresh, 0);
  const int restarted =
      log_.WaitFor(told, Is(RuntimeEventType::kServerRestarted), kWait);
  ASSERT_GE(restarted, 0);
  EXPECT_EQ(log_.At(restarted).previous_instance_id, old_instance);
  EXPECT_NE(log_.At(fresh).message.welcome().server_info().instance_id(),
            old_instance);
}

TEST_P(RuntimeE2eTest, ShotsAndHitsArriveAsEvents) {
  ASSERT_NO_FATAL_FAILURE(StartRuntime(FastPolicy(), "shooter"));
  const int shooter_login = AwaitLogin();
  ASSERT_GE(shooter_login, 0);
  EventLog target_log;
  SharedNetworkRuntime target;
  ASSERT_OK(target.Start({.port = cluster_->game_port(),
                          .transport = GetParam(),
                          .credential = "target",
                          .policy = FastPolicy(),
                          .udp_retransmit_interval = absl::Milliseconds(200),
                          .on_event = target_log.Sink()}));
  const int target_login = target_log.WaitFor(0, WelcomeResumed(false), kWait);
  ASSERT_GE(target_login, 0);
  const game::v1::Welcome target_welcome =
      target_log.At(target_login).message.welcome();

  // The runtime stamps a shot with its estimate of the server tick, which may
  // still be before the tick the target spawned at; there was no target to
  // hit then, so that shot is out of range. Such a refusal costs nothing, so
  // shoot again: the estimate catches up within a tick.
  int shot = shooter_login;
  game::v1::ShootResult result;
  const absl::Time give_up = absl::Now() + kWait;
  for (;;) {
    ASSERT_LT(absl::Now(), give_up) << log_.Dump();
    runtime_->Shoot(target_welcome.session_id());
    shot = log_.WaitFor(shot + 1, Is(RuntimeEventType::kShootResult), kWait);
    ASSERT_GE(shot, 0);
    result = log_.At(shot).message.shoot_result();
    if (result.accepted() || result.tick() >= target_welcome.server_tick()) {
      break;
    }
    ASSERT_EQ(result.rejection(), "target_out_of_range")
        << log_.At(shot).ToString();
  }
  EXPECT_TRUE(result.accepted()) << log_.At(shot).ToString();
  EXPECT_EQ(result.target_session_id(), target_welcome.session_id());
  EXPECT_LT(result.target_health(), target_welcome.health());
  const int hit = target_log.WaitFor(target_login,
                                     Is(RuntimeEventType::kHitReceived), kWait);
  ASSERT_GE(hit, 0);
  EXPECT_EQ(target_log.At(hit).message.hit_received().shooter_session_id(),
            log_.At(shooter_login).message.welcome().session_id());
  target.Stop();
}

TEST_P(RuntimeE2eTest, GatewayGoneGivesUpAfterThreeAttempts) {
  const ClientSessionPolicy policy = FastPolicy();
  ASSERT_NO_FATAL_FAILURE(StartRuntime(policy, "erin"));
  const int login = AwaitLogin();
  ASSERT_GE(login, 0);

  ASSERT_OK(cluster_->StopGateway().status());
  const int reconnecting =
      log_.WaitFor(login, EntersState(SessionState::kReconnecting), kWait);
  ASSERT_GE(reconnecting, 0);
  const int gave_up =
      log_.WaitFor(reconnecting, Is(RuntimeEventType::kGaveUp), kWait);
  ASSERT_GE(gave_up, 0);
  // Attempts 1, 2, 3 were scheduled in order, one delay apart at least.
  int cursor = reconnecting;
  for (int attempt = 1; attempt <= 3; ++attempt) {
    cursor = log_.WaitFor(
        cursor + 1,
        [attempt](const RuntimeEvent& e) {
          return e.type == RuntimeEventType::kReconnectScheduled &&
                 e.attempt == attempt;
        },
        absl::ZeroDuration());
    ASSERT_GE(cursor, 0) << "attempt " << attempt;
    ASSERT_LT(cursor, gave_up);
  }
  EXPECT_LT(log_.WaitFor(
                reconnecting,
                [](const RuntimeEvent& e) {
                  return e.type == RuntimeEventType::kReconnectScheduled &&
                         e.attempt == 4;
                },
                absl::ZeroDuration()),
            0);
  const absl::Duration elapsed = log_.At(gave_up).at - log_.At(reconnecting).at;
  EXPECT_GE(elapsed, 3 * policy.reconnect_delay);
  EXPECT_LE(elapsed,
            3 * (policy.reconnect_delay + policy.attempt_timeout) + kSlack);
  const int closed =
      log_.WaitFor(reconnecting, EntersState(SessionState::kClosed), kWait);
  ASSERT_GE(closed, 0);
  EXPECT_EQ(log_.At(closed).reason, CloseReason::kResumeFailed);
}

INSTANTIATE_TEST_SUITE_P(Transports, RuntimeE2eTest,
                         ::testing::Values(TransportKind::kTcp,
                                           TransportKind::kUdp),
                         [](const auto& info) {
                           return info.param == TransportKind::kTcp ? "Tcp"
                                                                    : "Udp";
                         });

// game-client driven through a pipe, as a person would at a terminal.
class GameClientCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(cluster_, Cluster::Start(ClusterOptions{}));
    out_path_ = absl::StrCat(::gss::testing::MakeTestTempDir("game_client"),
                             "/out.txt");
  }

  // Starts game-client with `flags`, its output going to out_path_; its
  // stdin is the returned pipe (pclose waits for the exit).
  FILE* StartClient(absl::string_view flags) {
    const std::string command =
        absl::StrCat(GSS_GAME_CLIENT_BINARY, " --port=", cluster_->game_port(),
                     " ", flags, " > ", out_path_, " 2>&1");
    return popen(command.c_str(), "w");
  }

  std::string Output() const {
    return ::gss::testing::ReadFileToString(out_path_).value_or("");
  }

  std::unique_ptr<Cluster> cluster_;
  std::string out_path_;
};

TEST_F(GameClientCliTest, PlaysFromStdinAndPrintsEvents) {
  FILE* in = StartClient("--name=frank --heartbeat_interval=200ms");
  ASSERT_NE(in, nullptr);
  auto output_has = [&](absl::string_view text) {
    return ::gss::testing::WaitFor(
        [&] { return absl::StrContains(Output(), text); }, kWait);
  };
  EXPECT_TRUE(output_has("event welcome session="));
  std::fputs("move 1 0\nping\nbogus\n", in);
  std::fflush(in);
  EXPECT_TRUE(output_has("event move_result"));
  EXPECT_TRUE(output_has(" user"));
  EXPECT_TRUE(output_has("error unknown command \"bogus\""));
  EXPECT_TRUE(output_has("heartbeat"));
  std::fputs("quit\n", in);
  const int status = pclose(in);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_TRUE(output_has("event stopped"));
  if (HasFailure()) {
    std::fprintf(stderr, "%s\n", Output().c_str());
  }
}

TEST_F(GameClientCliTest, CommandsPipedBeforeTheLoginWaitForIt) {
  FILE* in = StartClient("--name=scripted");
  ASSERT_NE(in, nullptr);
  // At once, before the client can have connected.
  std::fputs("move 1 0\nping\n", in);
  std::fflush(in);
  std::string out;
  EXPECT_TRUE(::gss::testing::WaitFor(
      [&] {
        out = Output();
        return absl::StrContains(out, "event move_result") &&
               absl::StrContains(out, " user");
      },
      kWait))
      << out;
  EXPECT_LT(out.find("event welcome"), out.find("event move_result")) << out;
  EXPECT_TRUE(absl::StrContains(out, "accepted=true")) << out;
  EXPECT_FALSE(absl::StrContains(out, "not_connected")) << out;
  std::fputs("quit\n", in);
  const int status = pclose(in);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

int CountOf(absl::string_view text, absl::string_view what) {
  int count = 0;
  for (size_t at = text.find(what); at != absl::string_view::npos;
       at = text.find(what, at + what.size())) {
    ++count;
  }
  return count;
}

// A script that ends without quit: the replies to its last commands are
// printed before the tool exits.
TEST_F(GameClientCliTest, EndOfInputWaitsForTheLastReplies) {
  FILE* in = StartClient("--name=piped --reply_wait=20s");
  ASSERT_NE(in, nullptr);
  std::fputs("move 1 0\nmove 0 1\nping\n", in);
  // Closes stdin and waits for the exit.
  const int status = pclose(in);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  const std::string out = Output();
  EXPECT_EQ(CountOf(out, "event move_result"), 2) << out;
  EXPECT_EQ(CountOf(out, " user"), 1) << out;
  EXPECT_TRUE(absl::StrContains(out, "event stopped")) << out;
}

// Logins with the jwt authenticator: the runtime carries the token as it is.
class RuntimeJwtTest : public ::testing::TestWithParam<TransportKind> {
 protected:
  static constexpr char kKey[] = "runtime-test-key-of-at-least-32-bytes!";

  void SetUp() override {
    const std::string dir = ::gss::testing::MakeTestTempDir("jwt");
    key_file_ = absl::StrCat(dir, "/jwt.key");
    std::ofstream(key_file_) << kKey << "\n";
    ClusterOptions options;
    options.service_flags = {"--authenticator=jwt",
                             absl::StrCat("--jwt_key_file=", key_file_)};
    ASSERT_OK_AND_ASSIGN(cluster_, Cluster::Start(options));
  }

  // Starts a runtime logging in with `token`; its events go to `log`.
  std::unique_ptr<SharedNetworkRuntime> Start(const std::string& token,
                                              EventLog& log) {
    auto runtime = std::make_unique<SharedNetworkRuntime>();
    ClientSessionPolicy policy;
    policy.max_reconnect_attempts = 1;
    EXPECT_OK(
        runtime->Start({.port = cluster_->game_port(),
                        .transport = GetParam(),
                        .credential = token,
                        .policy = policy,
                        .udp_retransmit_interval = absl::Milliseconds(200),
                        .on_event = log.Sink()}));
    return runtime;
  }

  std::string key_file_;
  std::unique_ptr<Cluster> cluster_;
};

TEST_P(RuntimeJwtTest, SignedTokenLogsInAndAForgedOneIsRejected) {
  ::gss::testing::TokenClaims claims;
  claims.sub = "p-42";
  claims.name = "Jay";
  claims.exp = absl::Now() + absl::Hours(1);
  EventLog good_log;
  auto good =
      Start(::gss::testing::MintToken(JWT_ALG_HS256, kKey, claims), good_log);
  const int welcome = good_log.WaitFor(0, WelcomeResumed(false), kWait);
  ASSERT_GE(welcome, 0) << good_log.Dump();
  EXPECT_EQ(good_log.At(welcome).message.welcome().player_id(), "p-42");
  EXPECT_EQ(good_log.At(welcome).message.welcome().display_name(), "Jay");

  EventLog forged_log;
  auto forged = Start(
      ::gss::testing::MintToken(
          JWT_ALG_HS256, "another-key-that-is-also-32-bytes-long", claims),
      forged_log);
  const int rejected =
      forged_log.WaitFor(0, Is(RuntimeEventType::kLoginRejected), kWait);
  ASSERT_GE(rejected, 0) << forged_log.Dump();
  EXPECT_EQ(forged_log.At(rejected).message.login_rejected().reason(),
            "bad_signature");
  EXPECT_GE(
      forged_log.WaitFor(rejected, EntersState(SessionState::kClosed), kWait),
      0)
      << forged_log.Dump();
  // The good session is untouched.
  good->Ping();
  EXPECT_GE(good_log.WaitFor(welcome, Is(RuntimeEventType::kPong), kWait), 0);
  good->Stop();
  forged->Stop();
}

INSTANTIATE_TEST_SUITE_P(Transports, RuntimeJwtTest,
                         ::testing::Values(TransportKind::kTcp,
                                           TransportKind::kUdp),
                         [](const auto& info) {
                           return info.param == TransportKind::kTcp ? "Tcp"
                                                                    : "Udp";
                         });

}  // namespace
}  // namespace gss::client
