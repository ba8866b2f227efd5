// End-to-end: two peers' liveness is tracked independently; a silent peer
// goes Suspect, Reconnecting and Closed while a pinging peer stays Active.
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/support/cluster.h"
#include "tests/support/game_test_client.h"
#include "tests/support/ops_client.h"
#include "tests/support/test_macros.h"
#include "tests/support/transition_recorder.h"

namespace gss::testing {
namespace {

using ops::v1::SessionState;
using ops::v1::Transition;

class LivenessTest : public ::testing::TestWithParam<Transport> {};

TEST_P(LivenessTest, SilentPeerTimesOutWhileOtherStaysActive) {
  ClusterOptions options;
  options.service_flags = FastLivenessFlags();
  // The gateway must not end the silent UDP peer first: this test is about
  // the service's liveness tracking.
  options.gateway_flags = {"--udp_idle_timeout=30s"};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cluster> cluster,
                       Cluster::Start(options));
  OpsClient& ops = cluster->ops();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SessionWatch> watch, ops.WatchSynced());
  TransitionRecorder recorder(std::move(watch));

  ASSERT_OK_AND_ASSIGN(
      auto silent, GameTestClient::Connect(GetParam(), cluster->game_port()));
  ASSERT_OK_AND_ASSIGN(
      auto live, GameTestClient::Connect(GetParam(), cluster->game_port()));
  ASSERT_OK_AND_ASSIGN(game::v1::Welcome silent_welcome,
                       silent->Login("silent"));
  ASSERT_OK_AND_ASSIGN(game::v1::Welcome live_welcome, live->Login("live"));
  const std::string silent_id = silent_welcome.session_id();
  const std::string live_id = live_welcome.session_id();
  ASSERT_NE(silent_id, live_id);

  // While waiting, the live peer pings every 100 ms (a third of
  // suspect_after) and both sessions are looked up.
  std::set<SessionState> silent_states;
  std::vector<std::string> live_problems;
  bool reconnecting_had_remote = false;
  auto keep_live = [&] {
    absl::StatusOr<game::v1::Pong> pong = live->Ping();
    if (!pong.ok()) {
      live_problems.push_back(absl::StrCat("ping: ", pong.status().ToString()));
    }
    absl::StatusOr<ops::v1::Session> live_session = ops.GetSession(live_id);
    if (!live_session.ok()) {
      live_problems.push_back(
          absl::StrCat("GetSession: ", live_session.status().ToString()));
    } else if (live_session->state() != ops::v1::SESSION_STATE_ACTIVE) {
      live_problems.push_back(absl::StrCat(
          "state ", ops::v1::SessionState_Name(live_session->state())));
    }
    absl::StatusOr<ops::v1::Session> silent_session = ops.GetSession(silent_id);
    if (silent_session.ok()) {
      silent_states.insert(silent_session->state());
      if (silent_session->state() == ops::v1::SESSION_STATE_RECONNECTING &&
          silent_session->has_remote()) {
        reconnecting_had_remote = true;
      }
    } else if (absl::IsNotFound(silent_session.status())) {
      silent_states.insert(ops::v1::SESSION_STATE_CLOSED);
    }
  };
  recorder.set_between_interval(absl::Milliseconds(50));
  std::optional<Transition> closed = recorder.WaitForTransition(
      silent_id, ops::v1::SESSION_STATE_CLOSED, absl::Seconds(10), keep_live);
  ASSERT_TRUE(closed.has_value())
      << "silent session never closed; its transitions:\n"
      << Describe(recorder.For(silent_id));
  EXPECT_EQ(closed->close_reason(), "grace_expired");

  // The silent session's path from login on, in order.
  std::vector<Transition> path = recorder.For(silent_id);
  std::vector<std::pair<SessionState, std::string>> after_login;
  bool logged_in = false;
  for (const Transition& t : path) {
    if (t.to() == ops::v1::SESSION_STATE_ACTIVE) logged_in = true;
    if (logged_in) after_login.emplace_back(t.to(), t.cause());
  }
  const std::vector<std::pair<SessionState, std::string>> expected = {
      {ops::v1::SESSION_STATE_ACTIVE, "login_succeeded"},
      {ops::v1::SESSION_STATE_SUSPECT, "liveness_overdue"},
      {ops::v1::SESSION_STATE_RECONNECTING, "liveness_lost"},
      {ops::v1::SESSION_STATE_CLOSED, "grace_expired"},
  };
  EXPECT_EQ(after_login, expected) << Describe(path);

  // GetSession saw the intermediate states too, and the closed session is
  // gone (or shown closed).
  EXPECT_TRUE(silent_states.contains(ops::v1::SESSION_STATE_SUSPECT));
  EXPECT_TRUE(silent_states.contains(ops::v1::SESSION_STATE_RECONNECTING));
  EXPECT_FALSE(reconnecting_had_remote)
      << "ops.proto: remote is unset while reconnecting";
  ASSERT_OK_AND_ASSIGN(SessionState final_state, ops.StateOf(silent_id));
  EXPECT_EQ(final_state, ops::v1::SESSION_STATE_CLOSED);

  // The live peer never left Active and has no transitions past its login.
  EXPECT_TRUE(live_problems.empty())
      << "live peer disturbed: " << absl::StrJoin(live_problems, "; ");
  std::vector<Transition> live_path = recorder.For(live_id);
  ASSERT_FALSE(live_path.empty());
  EXPECT_EQ(live_path.back().to(), ops::v1::SESSION_STATE_ACTIVE)
      << Describe(live_path);
  for (const Transition& t : live_path) {
    EXPECT_NE(t.to(), ops::v1::SESSION_STATE_SUSPECT) << Describe(live_path);
  }
  ASSERT_OK_AND_ASSIGN(ops::v1::Session live_session, ops.GetSession(live_id));
  EXPECT_EQ(live_session.state(), ops::v1::SESSION_STATE_ACTIVE);
  ASSERT_OK(live->Ping());
  EXPECT_EQ(recorder.lost(), 0u);
  EXPECT_TRUE(cluster->service()->Running());
  EXPECT_TRUE(cluster->gateway()->Running());
}

TEST_P(LivenessTest, SuspectPeerRecoversOnItsNextMessage) {
  ClusterOptions options;
  // Long liveness so that only Suspect is reached.
  options.service_flags = {"--suspect_after=300ms", "--liveness_timeout=30s",
                           "--advance_interval=10ms"};
  options.gateway_flags = {"--udp_idle_timeout=30s"};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cluster> cluster,
                       Cluster::Start(options));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SessionWatch> watch,
                       cluster->ops().WatchSynced());
  TransitionRecorder recorder(std::move(watch));
  ASSERT_OK_AND_ASSIGN(
      auto quiet, GameTestClient::Connect(GetParam(), cluster->game_port()));
  ASSERT_OK_AND_ASSIGN(
      auto other, GameTestClient::Connect(GetParam(), cluster->game_port()));
  ASSERT_OK_AND_ASSIGN(game::v1::Welcome quiet_welcome, quiet->Login("quiet"));
  ASSERT_OK_AND_ASSIGN(game::v1::Welcome other_welcome, other->Login("other"));

  // Both fall silent: both go Suspect, each on its own.
  ASSERT_TRUE(recorder
                  .WaitForTransition(quiet_welcome.session_id(),
                                     ops::v1::SESSION_STATE_SUSPECT,
                                     absl::Seconds(5))
                  .has_value());
  ASSERT_TRUE(recorder
                  .WaitForTransition(other_welcome.session_id(),
                                     ops::v1::SESSION_STATE_SUSPECT,
                                     absl::Seconds(5))
                  .has_value());
  // One speaks again: only it returns to Active.
  ASSERT_OK(quiet->Ping());
  std::optional<Transition> back = recorder.WaitForTransition(
      quiet_welcome.session_id(), ops::v1::SESSION_STATE_ACTIVE,
      absl::Seconds(5), nullptr, /*occurrence=*/2);
  ASSERT_TRUE(back.has_value())
      << Describe(recorder.For(quiet_welcome.session_id()));
  EXPECT_EQ(back->from(), ops::v1::SESSION_STATE_SUSPECT);
  EXPECT_EQ(back->cause(), "heartbeat");
  ASSERT_OK_AND_ASSIGN(ops::v1::Session other_session,
                       cluster->ops().GetSession(other_welcome.session_id()));
  EXPECT_EQ(other_session.state(), ops::v1::SESSION_STATE_SUSPECT);
}

INSTANTIATE_TEST_SUITE_P(Transports, LivenessTest,
                         ::testing::Values(Transport::kTcp, Transport::kUdp),
                         [](const auto& info) {
                           return TransportName(info.param);
                         });

}  // namespace
}  // namespace gss::testing
