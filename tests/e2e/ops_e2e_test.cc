// End-to-end: the ops inspection API. Eviction closes exactly one peer's
// connection; WatchSessions reports every transition of a scripted run in
// order; lookups and listing validate their arguments.
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/cluster.h"
#include "tests/support/game_test_client.h"
#include "tests/support/ops_client.h"
#include "tests/support/test_macros.h"
#include "tests/support/transition_recorder.h"

namespace gss::testing {
namespace {

using game::v1::ServerMessage;
using game::v1::Welcome;
using ops::v1::SessionState;
using ops::v1::Transition;

class OpsTest : public ::testing::TestWithParam<Transport> {
 protected:
  absl::StatusOr<std::unique_ptr<GameTestClient>> Connect() {
    return GameTestClient::Connect(GetParam(), cluster_->game_port());
  }
  std::unique_ptr<Cluster> cluster_;
};

TEST_P(OpsTest, EvictClosesThatPeerAndNothingElse) {
  ASSERT_OK_AND_ASSIGN(cluster_, Cluster::Start(ClusterOptions()));
  OpsClient& ops = cluster_->ops();
  ASSERT_OK_AND_ASSIGN(auto victim, Connect());
  ASSERT_OK_AND_ASSIGN(auto bystander1, Connect());
  ASSERT_OK_AND_ASSIGN(auto bystander2, Connect());
  ASSERT_OK_AND_ASSIGN(Welcome victim_welcome, victim->Login("victim"));
  ASSERT_OK_AND_ASSIGN(Welcome b1_welcome, bystander1->Login("bystander1"));
  ASSERT_OK_AND_ASSIGN(Welcome b2_welcome, bystander2->Login("bystander2"));
  ASSERT_OK_AND_ASSIGN(ops::v1::Session b1_before,
                       ops.GetSession(b1_welcome.session_id()));

  ASSERT_OK_AND_ASSIGN(
      ops::v1::EvictSessionResponse evicted,
      ops.EvictSession(victim_welcome.session_id(), "e2e test eviction"));
  EXPECT_EQ(evicted.transition().session_id(), victim_welcome.session_id());
  EXPECT_EQ(evicted.transition().to(), ops::v1::SESSION_STATE_CLOSED);
  EXPECT_EQ(evicted.transition().close_reason(), "evicted");

  // The victim is told, then its transport is closed.
  ASSERT_OK_AND_ASSIGN(
      ServerMessage told,
      victim->ReceiveBody(ServerMessage::kDisconnect, absl::Seconds(5)));
  EXPECT_EQ(told.disconnect().reason(), "evicted");
  EXPECT_OK(victim->WaitForTransportClose(absl::Seconds(5)));
  if (GetParam() == Transport::kUdp) {
    EXPECT_EQ(victim->udp_disconnect_code(),
              wire::DisconnectCode::kClosedByService);
  }
  ASSERT_OK_AND_ASSIGN(SessionState victim_state,
                       ops.StateOf(victim_welcome.session_id()));
  EXPECT_EQ(victim_state, ops::v1::SESSION_STATE_CLOSED);

  // The others were told nothing and carry on.
  for (GameTestClient* other : {bystander1.get(), bystander2.get()}) {
    ASSERT_OK(other->Ping());
    EXPECT_FALSE(other->InboxHas(ServerMessage::kDisconnect));
    EXPECT_FALSE(other->transport_closed());
  }
  ASSERT_OK_AND_ASSIGN(ops::v1::Session b1_after,
                       ops.GetSession(b1_welcome.session_id()));
  EXPECT_EQ(b1_after.state(), ops::v1::SESSION_STATE_ACTIVE);
  EXPECT_EQ(b1_after.transitions(), b1_before.transitions());
  ASSERT_OK_AND_ASSIGN(ops::v1::Session b2_after,
                       ops.GetSession(b2_welcome.session_id()));
  EXPECT_EQ(b2_after.state(), ops::v1::SESSION_STATE_ACTIVE);

  // Evicting again, or something unknown or malformed, fails cleanly.
  EXPECT_TRUE(absl::IsNotFound(
      ops.EvictSession(victim_welcome.session_id(), "again").status()));
  EXPECT_TRUE(absl::IsNotFound(
      ops.EvictSession("00000000ffffffff", "unknown").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      ops.EvictSession("not-a-session", "malformed").status()));
  EXPECT_TRUE(cluster_->service()->Running());
  EXPECT_TRUE(cluster_->gateway()->Running());
}

TEST_P(OpsTest, EvictingAHeldSessionEndsItsResume) {
  ClusterOptions options;
  options.service_flags = {"--reconnect_grace=30s"};
  options.gateway_flags = {"--udp_idle_timeout=300ms"};
  ASSERT_OK_AND_ASSIGN(cluster_, Cluster::Start(options));
  OpsClient& ops = cluster_->ops();
  ASSERT_OK_AND_ASSIGN(auto held, Connect());
  ASSERT_OK_AND_ASSIGN(Welcome welcome, held->Login("held"));
  held->CloseAbruptly();
  ASSERT_OK(ops.WaitForState(welcome.session_id(),
                             ops::v1::SESSION_STATE_RECONNECTING,
                             absl::Seconds(5)));
  ASSERT_OK_AND_ASSIGN(ops::v1::EvictSessionResponse evicted,
                       ops.EvictSession(welcome.session_id(), "no return"));
  EXPECT_EQ(evicted.transition().from(), ops::v1::SESSION_STATE_RECONNECTING);
  EXPECT_EQ(evicted.transition().close_reason(), "evicted");
  ASSERT_OK_AND_ASSIGN(SessionState state, ops.StateOf(welcome.session_id()));
  EXPECT_EQ(state, ops::v1::SESSION_STATE_CLOSED);
  // Its resume token is worthless now.
  ASSERT_OK_AND_ASSIGN(auto back, Connect());
  ASSERT_OK_AND_ASSIGN(ServerMessage reply,
                       back->Resume(welcome.resume_token()));
  EXPECT_TRUE(reply.has_resume_rejected()) << Describe(reply);
}

// One row of an expected transition list.
using Step = std::tuple<SessionState, SessionState, std::string>;

std::vector<Step> Steps(const std::vector<Transition>& transitions) {
  std::vector<Step> steps;
  for (const Transition& t : transitions) {
    steps.emplace_back(t.from(), t.to(), t.cause());
  }
  return steps;
}

// Sequence numbers run 1, 2, 3... and timestamps never go back.
void ExpectWellFormed(const std::vector<Transition>& path) {
  for (size_t i = 0; i < path.size(); ++i) {
    EXPECT_EQ(path[i].sequence(), i + 1) << Describe(path);
    if (i > 0) {
      EXPECT_EQ(path[i].from(), path[i - 1].to()) << Describe(path);
      const auto& at = path[i].at();
      const auto& before = path[i - 1].at();
      EXPECT_TRUE(
          at.seconds() > before.seconds() ||
          (at.seconds() == before.seconds() && at.nanos() >= before.nanos()))
          << Describe(path);
    }
  }
}

TEST_P(OpsTest, WatchSeesEveryTransitionOfAScriptedRunInOrder) {
  ClusterOptions options;
  options.service_flags = FastLivenessFlags();
  options.gateway_flags = {"--udp_idle_timeout=30s"};
  ASSERT_OK_AND_ASSIGN(cluster_, Cluster::Start(options));
  OpsClient& ops = cluster_->ops();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SessionWatch> watch, ops.WatchSynced());
  TransitionRecorder recorder(std::move(watch));

  // Run 1: connect, log in, fall silent (suspect), speak (active), fall
  // silent for good (suspect, reconnecting, closed after the grace).
  ASSERT_OK_AND_ASSIGN(auto drifter, Connect());
  ASSERT_OK_AND_ASSIGN(Welcome drifter_welcome, drifter->Login("drifter"));
  const std::string drifter_id = drifter_welcome.session_id();
  ASSERT_TRUE(recorder
                  .WaitForTransition(drifter_id, ops::v1::SESSION_STATE_SUSPECT,
                                     absl::Seconds(5))
                  .has_value())
      << Describe(recorder.For(drifter_id));
  ASSERT_OK(drifter->Ping());
  ASSERT_TRUE(recorder
                  .WaitForTransition(drifter_id, ops::v1::SESSION_STATE_CLOSED,
                                     absl::Seconds(10))
                  .has_value())
      << Describe(recorder.For(drifter_id));

  // Run 2: connect, log in, say goodbye.
  ASSERT_OK_AND_ASSIGN(auto polite, Connect());
  ASSERT_OK_AND_ASSIGN(Welcome polite_welcome, polite->Login("polite"));
  ASSERT_OK(polite->Goodbye());
  ASSERT_TRUE(recorder
                  .WaitForTransition(polite_welcome.session_id(),
                                     ops::v1::SESSION_STATE_CLOSED,
                                     absl::Seconds(5))
                  .has_value())
      << Describe(recorder.For(polite_welcome.session_id()));

  // Run 3: connect, log in, evicted.
  ASSERT_OK_AND_ASSIGN(auto rowdy, Connect());
  ASSERT_OK_AND_ASSIGN(Welcome rowdy_welcome, rowdy->Login("rowdy"));
  ASSERT_OK(ops.EvictSession(rowdy_welcome.session_id(), "scripted"));
  ASSERT_TRUE(recorder
                  .WaitForTransition(rowdy_welcome.session_id(),
                                     ops::v1::SESSION_STATE_CLOSED,
                                     absl::Seconds(5))
                  .has_value())
      << Describe(recorder.For(rowdy_welcome.session_id()));

  constexpr SessionState kConnecting = ops::v1::SESSION_STATE_CONNECTING;
  constexpr SessionState kAuthenticating =
      ops::v1::SESSION_STATE_AUTHENTICATING;
  constexpr SessionState kActive = ops::v1::SESSION_STATE_ACTIVE;
  constexpr SessionState kSuspect = ops::v1::SESSION_STATE_SUSPECT;
  constexpr SessionState kReconnecting = ops::v1::SESSION_STATE_RECONNECTING;
  constexpr SessionState kClosed = ops::v1::SESSION_STATE_CLOSED;

  const std::vector<Transition> drifter_path = recorder.For(drifter_id);
  const std::vector<Step> drifter_expected = {
      {kConnecting, kAuthenticating, "transport_connected"},
      {kAuthenticating, kActive, "login_succeeded"},
      {kActive, kSuspect, "liveness_overdue"},
      {kSuspect, kActive, "heartbeat"},
      {kActive, kSuspect, "liveness_overdue"},
      {kSuspect, kReconnecting, "liveness_lost"},
      {kReconnecting, kClosed, "grace_expired"},
  };
  EXPECT_EQ(Steps(drifter_path), drifter_expected) << Describe(drifter_path);
  EXPECT_EQ(drifter_path.back().close_reason(), "grace_expired");
  ExpectWellFormed(drifter_path);
  // The player is known from the login on.
  for (size_t i = 1; i < drifter_path.size(); ++i) {
    EXPECT_EQ(drifter_path[i].player_id(), drifter_welcome.player_id())
        << Describe(drifter_path);
  }

  const std::vector<Transition> polite_path =
      recorder.For(polite_welcome.session_id());
  const std::vector<Step> polite_expected = {
      {kConnecting, kAuthenticating, "transport_connected"},
      {kAuthenticating, kActive, "login_succeeded"},
      {kActive, kClosed, "transport_closed"},
  };
  EXPECT_EQ(Steps(polite_path), polite_expected) << Describe(polite_path);
  EXPECT_EQ(polite_path.back().close_reason(), "transport_closed");
  ExpectWellFormed(polite_path);

  const std::vector<Transition> rowdy_path =
      recorder.For(rowdy_welcome.session_id());
  const std::vector<Step> rowdy_expected = {
      {kConnecting, kAuthenticating, "transport_connected"},
      {kAuthenticating, kActive, "login_succeeded"},
      {kActive, kClosed, "evict"},
  };
  EXPECT_EQ(Steps(rowdy_path), rowdy_expected) << Describe(rowdy_path);
  EXPECT_EQ(rowdy_path.back().close_reason(), "evicted");
  ExpectWellFormed(rowdy_path);

  // Only these three sessions existed: nothing else was reported.
  std::set<std::string> sessions;
  for (const Transition& t : recorder.all()) sessions.insert(t.session_id());
  EXPECT_EQ(sessions.size(), 3u);
  EXPECT_EQ(recorder.lost(), 0u);
}

TEST_P(OpsTest, WatchOneSessionSeesOnlyIt) {
  ASSERT_OK_AND_ASSIGN(cluster_, Cluster::Start(ClusterOptions()));
  OpsClient& ops = cluster_->ops();
  ASSERT_OK_AND_ASSIGN(auto watched, Connect());
  ASSERT_OK_AND_ASSIGN(auto other, Connect());
  ASSERT_OK_AND_ASSIGN(Welcome watched_welcome, watched->Login("watched"));
  ASSERT_OK_AND_ASSIGN(Welcome other_welcome, other->Login("other"));
  std::vector<ops::v1::Session> snapshot;
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<SessionWatch> watch,
      ops.WatchSynced(watched_welcome.session_id(), &snapshot));
  ASSERT_EQ(snapshot.size(), 1u);
  EXPECT_EQ(snapshot[0].session_id(), watched_welcome.session_id());
  EXPECT_EQ(snapshot[0].state(), ops::v1::SESSION_STATE_ACTIVE);
  TransitionRecorder recorder(std::move(watch));
  ASSERT_OK(other->Goodbye());
  ASSERT_OK(watched->Goodbye());
  ASSERT_TRUE(recorder
                  .WaitForTransition(watched_welcome.session_id(),
                                     ops::v1::SESSION_STATE_CLOSED,
                                     absl::Seconds(5))
                  .has_value());
  for (const Transition& t : recorder.all()) {
    EXPECT_EQ(t.session_id(), watched_welcome.session_id());
  }
}

TEST_P(OpsTest, LookupsAndServerInfo) {
  ASSERT_OK_AND_ASSIGN(cluster_, Cluster::Start(ClusterOptions()));
  OpsClient& ops = cluster_->ops();
  ASSERT_OK_AND_ASSIGN(auto a, Connect());
  ASSERT_OK_AND_ASSIGN(auto b, Connect());
  ASSERT_OK_AND_ASSIGN(Welcome a_welcome, a->Login("lookup-a"));
  ASSERT_OK_AND_ASSIGN(auto pending, Connect());  // Never logs in.
  // b and pending are connected but not logged in: wait until the service
  // has heard of both.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto info = ops.GetServerInfo();
        return info.ok() &&
               info->sessions_by_state().contains("authenticating") &&
               info->sessions_by_state().at("authenticating") == 2;
      },
      absl::Seconds(5)));

  ASSERT_OK_AND_ASSIGN(ops::v1::Session by_id,
                       ops.GetSession(a_welcome.session_id()));
  EXPECT_EQ(by_id.state(), ops::v1::SESSION_STATE_ACTIVE);
  EXPECT_EQ(by_id.player_id(), a_welcome.player_id());
  EXPECT_EQ(by_id.display_name(), "lookup-a");
  EXPECT_EQ(by_id.health(), a_welcome.health());
  EXPECT_EQ(by_id.position().x(), a_welcome.position().x());
  EXPECT_EQ(by_id.remote().gateway_id(), 1u);
  EXPECT_NE(by_id.remote().connection_id(), 0u);
  EXPECT_EQ(by_id.remote().address(),
            absl::StrCat("127.0.0.1:", a->local_port()));
  if (GetParam() == Transport::kUdp) {
    EXPECT_EQ(by_id.remote().connection_id(), a->connection_id());
  }
  ASSERT_OK_AND_ASSIGN(ops::v1::Session by_player,
                       ops.GetSessionByPlayer(a_welcome.player_id()));
  EXPECT_EQ(by_player.session_id(), a_welcome.session_id());
  ops::v1::GetSessionRequest by_remote_request;
  by_remote_request.mutable_remote()->set_gateway_id(1);
  by_remote_request.mutable_remote()->set_connection_id(
      by_id.remote().connection_id());
  ASSERT_OK_AND_ASSIGN(ops::v1::Session by_remote, ops.Get(by_remote_request));
  EXPECT_EQ(by_remote.session_id(), a_welcome.session_id());

  EXPECT_TRUE(absl::IsNotFound(ops.GetSession("00000000ffffffff").status()));
  EXPECT_TRUE(absl::IsNotFound(ops.GetSessionByPlayer("nobody").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ops.GetSession("xyz").status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(ops.Get(ops::v1::GetSessionRequest()).status()));
  // A watch on a malformed session id ends at once with INVALID_ARGUMENT.
  ops::v1::WatchSessionsRequest bad_watch;
  bad_watch.set_session_id("xyz");
  std::unique_ptr<SessionWatch> watch = ops.Watch(bad_watch);
  ASSERT_TRUE(watch->WaitForEnd(absl::Seconds(5)));
  EXPECT_EQ(watch->final_status()->error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  ASSERT_OK_AND_ASSIGN(ops::v1::ServerInfo info, ops.GetServerInfo());
  EXPECT_EQ(info.instance_id(), a_welcome.server_info().instance_id());
  EXPECT_EQ(info.version(), a_welcome.server_info().version());
  EXPECT_FALSE(info.draining());
  EXPECT_EQ(info.gateways_attached(), 1u);
  EXPECT_EQ(info.sessions_by_state().at("active"), 1);
  EXPECT_EQ(info.sessions_by_state().at("authenticating"), 2);
}

TEST_P(OpsTest, ListSessionsFiltersAndValidates) {
  ASSERT_OK_AND_ASSIGN(cluster_, Cluster::Start(ClusterOptions()));
  OpsClient& ops = cluster_->ops();
  std::vector<std::unique_ptr<GameTestClient>> clients;
  std::set<std::string> active_ids;
  for (int i = 0; i < 7; ++i) {
    ASSERT_OK_AND_ASSIGN(auto client, Connect());
    if (i < 5) {
      ASSERT_OK_AND_ASSIGN(Welcome welcome,
                           client->Login(absl::StrCat("lister-", i)));
      active_ids.insert(welcome.session_id());
    }
    clients.push_back(std::move(client));
  }
  // The two that did not log in are known to the service too.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto page = ops.ListSessions(ops::v1::ListSessionsRequest());
        return page.ok() && page->sessions_size() == 7;
      },
      absl::Seconds(5)));
  // Small pages over the logged-in sessions only.
  ops::v1::ListSessionsRequest request;
  request.add_states(ops::v1::SESSION_STATE_ACTIVE);
  request.set_page_size(2);
  std::vector<std::string> listed;
  int pages = 0;
  do {
    ASSERT_OK_AND_ASSIGN(ops::v1::ListSessionsResponse page,
                         ops.ListSessions(request));
    ++pages;
    ASSERT_LE(page.sessions_size(), 2);
    for (const ops::v1::Session& session : page.sessions()) {
      EXPECT_EQ(session.state(), ops::v1::SESSION_STATE_ACTIVE);
      listed.push_back(session.session_id());
    }
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty() && pages < 20);
  EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()), active_ids);
  EXPECT_EQ(listed.size(), active_ids.size());
  EXPECT_TRUE(std::is_sorted(listed.begin(), listed.end()));
  EXPECT_GE(pages, 3);

  // Every state, one page.
  ops::v1::ListSessionsRequest all;
  ASSERT_OK_AND_ASSIGN(ops::v1::ListSessionsResponse everything,
                       ops.ListSessions(all));
  EXPECT_EQ(everything.sessions_size(), 7);
  EXPECT_TRUE(everything.next_page_token().empty());
  // By gateway: ours is 1, there is no 2.
  all.set_gateway_id(2);
  ASSERT_OK_AND_ASSIGN(ops::v1::ListSessionsResponse none,
                       ops.ListSessions(all));
  EXPECT_EQ(none.sessions_size(), 0);

  ops::v1::ListSessionsRequest bad_size;
  bad_size.set_page_size(1001);
  EXPECT_TRUE(absl::IsInvalidArgument(ops.ListSessions(bad_size).status()));
  bad_size.set_page_size(-1);
  EXPECT_TRUE(absl::IsInvalidArgument(ops.ListSessions(bad_size).status()));
  ops::v1::ListSessionsRequest bad_token;
  bad_token.set_page_token("definitely not a token");
  EXPECT_TRUE(absl::IsInvalidArgument(ops.ListSessions(bad_token).status()));
}

INSTANTIATE_TEST_SUITE_P(Transports, OpsTest,
                         ::testing::Values(Transport::kTcp, Transport::kUdp),
                         [](const auto& info) {
                           return TransportName(info.param);
                         });

}  // namespace
}  // namespace gss::testing
