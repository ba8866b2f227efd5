// End-to-end faults: the session service killed or frozen while peers are
// active, the gateway killed or frozen; what each process promises after
// (docs/operations.md, "What survives a crash").
#include <signal.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/cluster.h"
#include "tests/support/game_test_client.h"
#include "tests/support/ops_client.h"
#include "tests/support/prometheus_text.h"
#include "tests/support/test_macros.h"
#include "tests/support/transition_recorder.h"

namespace gss::testing {
namespace {

using game::v1::ServerMessage;
using game::v1::Welcome;

struct Player {
  std::string name;
  std::unique_ptr<GameTestClient> client;
  Welcome welcome;
};

// Two players per transport, logged in, each having moved once so that the
// service holds state of theirs worth talking about.
absl::StatusOr<std::vector<Player>> LogInPlayers(Cluster& cluster,
                                                 const std::string& prefix) {
  std::vector<Player> players;
  for (Transport transport : {Transport::kTcp, Transport::kUdp}) {
    for (int i = 0; i < 2; ++i) {
      Player player;
      player.name = absl::StrCat(prefix, "-", TransportName(transport), i);
      auto client = GameTestClient::Connect(transport, cluster.game_port());
      if (!client.ok()) return client.status();
      player.client = *std::move(client);
      auto welcome = player.client->Login(player.name);
      if (!welcome.ok()) return welcome.status();
      player.welcome = *welcome;
      auto moved =
          player.client->Move(player.client->EstimatedServerTick(),
                              player.welcome.position().x() > 0 ? -1 : 1, 0);
      if (!moved.ok()) return moved.status();
      players.push_back(std::move(player));
    }
  }
  return players;
}

bool IsDisconnect(const ServerMessage& message, const std::string& reason) {
  return message.has_disconnect() && message.disconnect().reason() == reason;
}

// Keeps sending Login on the same connection until a Welcome comes back, as
// a client that "keeps trying" would; notices about the outage in between
// are skipped.
absl::StatusOr<Welcome> LogInAgain(GameTestClient& client,
                                   const std::string& name,
                                   absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last = absl::DeadlineExceededError("no attempt");
  while (absl::Now() < deadline) {
    absl::StatusOr<ServerMessage> reply = client.LoginReply(
        name, std::min(absl::Seconds(2), deadline - absl::Now()));
    if (reply.ok() && reply->has_welcome()) return reply->welcome();
    last =
        reply.ok() ? absl::UnavailableError(Describe(*reply)) : reply.status();
  }
  return last;
}

// Sends Resume with `token` until a Welcome comes back (the link may still
// be resynchronising when the first one goes out).
absl::StatusOr<Welcome> ResumeUntilWelcome(GameTestClient& client,
                                           const std::string& token,
                                           absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last = absl::DeadlineExceededError("no attempt");
  while (absl::Now() < deadline) {
    absl::StatusOr<ServerMessage> reply = client.Resume(
        token, std::min(absl::Seconds(2), deadline - absl::Now()));
    if (reply.ok() && reply->has_welcome()) return reply->welcome();
    if (reply.ok() && reply->has_resume_rejected()) {
      return absl::PermissionDeniedError(Describe(*reply));
    }
    last =
        reply.ok() ? absl::UnavailableError(Describe(*reply)) : reply.status();
  }
  return last;
}

// The sessions the service lists, by player: a player listed twice is a
// duplicate session.
absl::StatusOr<std::map<std::string, std::vector<ops::v1::Session>>>
SessionsByPlayer(OpsClient& ops) {
  ops::v1::ListSessionsRequest request;
  request.set_page_size(1000);
  auto listed = ops.ListSessions(request);
  if (!listed.ok()) return listed.status();
  std::map<std::string, std::vector<ops::v1::Session>> by_player;
  for (const ops::v1::Session& session : listed->sessions()) {
    by_player[session.player_id()].push_back(session);
  }
  return by_player;
}

// After a fault: one session per player, all active; the service's session
// gauge and the gateway's peer gauge agree with what is listed.
void ExpectConsistentCounts(Cluster& cluster,
                            const std::vector<Player>& players) {
  ASSERT_OK_AND_ASSIGN(auto by_player, SessionsByPlayer(cluster.ops()));
  EXPECT_EQ(by_player.size(), players.size());
  for (const Player& player : players) {
    ASSERT_EQ(by_player[player.name].size(), 1u) << player.name;
    EXPECT_EQ(by_player[player.name][0].state(), ops::v1::SESSION_STATE_ACTIVE)
        << player.name;
  }
  ASSERT_OK_AND_ASSIGN(auto service,
                       ScrapeMetrics(cluster.service_metrics_port()));
  EXPECT_EQ(SumSamples(service, "gss_sessions"), players.size());
  EXPECT_EQ(SumSamples(service, "gss_sessions", {{"state", "active"}}),
            players.size());
  // The gateway drops a closed connection's peer on its own strand: wait for
  // the gauge to settle rather than read it once.
  double peers = -1;
  EXPECT_TRUE(WaitFor(
      [&] {
        auto gateway = ScrapeMetrics(cluster.gateway_metrics_port());
        if (!gateway.ok()) return false;
        peers = SumSamples(*gateway, "gss_gateway_peers");
        return peers == players.size();
      },
      absl::Seconds(10)))
      << "gateway peers " << peers << ", players " << players.size();
}

ClusterOptions FaultOptions() {
  ClusterOptions options;
  options.gateway_flags = {"--link_backoff_initial=50ms",
                           "--link_backoff_max=500ms", "--link_keepalive=1s"};
  return options;
}

TEST(ServiceCrashTest, PeersAreToldThenLogInAgainToTheNewInstance) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cluster> cluster,
                       Cluster::Start(FaultOptions()));
  ASSERT_OK_AND_ASSIGN(std::vector<Player> players,
                       LogInPlayers(*cluster, "crash"));
  const std::string first_instance =
      players[0].welcome.server_info().instance_id();

  // Mid-stream: inputs are on their way when the service dies.
  game::v1::ClientMessage ping;
  ping.mutable_ping()->set_client_time_us(1);
  for (Player& player : players) {
    for (int i = 0; i < 20; ++i) ASSERT_OK(player.client->Send(ping));
  }
  cluster->KillService();

  // Every peer is told, and keeps its connection.
  for (Player& player : players) {
    SCOPED_TRACE(player.name);
    ASSERT_OK(player.client->ReceiveMatching(
        [](const ServerMessage& m) {
          return IsDisconnect(m, "service_unavailable");
        },
        absl::Seconds(10)));
    EXPECT_FALSE(player.client->transport_closed());
  }
  EXPECT_TRUE(cluster->gateway()->Running());

  ASSERT_OK(cluster->StartService());
  ASSERT_OK(cluster->WaitForGatewayAttached(absl::Seconds(20)));
  ASSERT_OK_AND_ASSIGN(ops::v1::ServerInfo info,
                       cluster->ops().GetServerInfo());
  ASSERT_NE(info.instance_id(), first_instance);

  // Every peer that keeps trying is logged in again, on the connection it
  // kept, and sees the new instance.
  for (Player& player : players) {
    SCOPED_TRACE(player.name);
    ASSERT_OK_AND_ASSIGN(Welcome again, LogInAgain(*player.client, player.name,
                                                   absl::Seconds(20)));
    EXPECT_EQ(again.server_info().instance_id(), info.instance_id());
    EXPECT_NE(again.session_id(), player.welcome.session_id());
  }

  ExpectConsistentCounts(*cluster, players);
  ASSERT_OK_AND_ASSIGN(auto gateway,
                       ScrapeMetrics(cluster->gateway_metrics_port()));
  EXPECT_GE(SumSamples(gateway, "gss_gateway_link_reconnects_total"), 1);
  EXPECT_EQ(SumSamples(gateway, "gss_gateway_link_up"), 1);

  // The promise: sessions, positions and resume tokens lived in the dead
  // process and are gone. A token from before the crash is refused, naming
  // the new instance.
  ASSERT_OK_AND_ASSIGN(
      auto stranger,
      GameTestClient::Connect(Transport::kTcp, cluster->game_port()));
  ASSERT_OK_AND_ASSIGN(ServerMessage refused,
                       stranger->Resume(players[0].welcome.resume_token()));
  ASSERT_TRUE(refused.has_resume_rejected()) << Describe(refused);
  EXPECT_EQ(refused.resume_rejected().server_info().instance_id(),
            info.instance_id());
  for (const Player& player : players) {
    EXPECT_EQ(*cluster->ops().StateOf(player.welcome.session_id()),
              ops::v1::SESSION_STATE_CLOSED);
  }
}

TEST(ServiceFreezeTest, GatewayNoticesThroughKeepaliveAndSessionsResume) {
  ClusterOptions options = FaultOptions();
  options.service_flags = {"--suspect_after=300ms", "--liveness_timeout=600ms",
                           "--reconnect_grace=60s", "--advance_interval=10ms"};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cluster> cluster,
                       Cluster::Start(options));
  ASSERT_OK_AND_ASSIGN(std::vector<Player> players,
                       LogInPlayers(*cluster, "frozen-service"));
  const std::string instance = players[0].welcome.server_info().instance_id();

  // A frozen service keeps its sockets open: only the link's keepalive can
  // tell. With a 1 s keepalive that takes longer than the 600 ms liveness
  // timeout, so the freeze outlasts it by the time the peers hear.
  ASSERT_OK(cluster->service()->Signal(SIGSTOP));
  const absl::Time frozen_at = absl::Now();
  for (Player& player : players) {
    SCOPED_TRACE(player.name);
    ASSERT_OK(player.client->ReceiveMatching(
        [](const ServerMessage& m) {
          return IsDisconnect(m, "service_unavailable");
        },
        absl::Seconds(15)));
  }
  const absl::Duration noticed_after = absl::Now() - frozen_at;
  // Keepalive time plus timeout, with room for a loaded machine.
  EXPECT_LT(noticed_after, absl::Seconds(8));
  EXPECT_GT(noticed_after, absl::Milliseconds(600));
  ASSERT_OK(cluster->service()->Signal(SIGCONT));

  // The same instance is back: each session resumes where it was.
  ASSERT_OK(cluster->WaitForGatewayAttached(absl::Seconds(20)));
  for (Player& player : players) {
    SCOPED_TRACE(player.name);
    ASSERT_OK_AND_ASSIGN(
        Welcome resumed,
        ResumeUntilWelcome(*player.client, player.welcome.resume_token(),
                           absl::Seconds(20)));
    EXPECT_EQ(resumed.session_id(), player.welcome.session_id());
    EXPECT_EQ(resumed.server_info().instance_id(), instance);
    ASSERT_OK(player.client->Ping());
  }
  EXPECT_TRUE(cluster->service()->Running());
  EXPECT_TRUE(cluster->gateway()->Running());
  ExpectConsistentCounts(*cluster, players);
}

TEST(GatewayCrashTest, HeldSessionsCloseWithGraceExpiredWhenNoGatewayReturns) {
  ClusterOptions options;
  options.service_flags = {"--reconnect_grace=1s", "--advance_interval=10ms"};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cluster> cluster,
                       Cluster::Start(options));
  ASSERT_OK_AND_ASSIGN(std::vector<Player> players,
                       LogInPlayers(*cluster, "orphan"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SessionWatch> watch,
                       cluster->ops().WatchSynced());
  TransitionRecorder recorder(std::move(watch));

  cluster->KillGateway();
  for (const Player& player : players) {
    SCOPED_TRACE(player.name);
    const std::string& id = player.welcome.session_id();
    std::optional<ops::v1::Transition> held = recorder.WaitForTransition(
        id, ops::v1::SESSION_STATE_RECONNECTING, absl::Seconds(10));
    ASSERT_TRUE(held.has_value()) << Describe(recorder.For(id));
    EXPECT_EQ(held->cause(), "transport_lost");
    std::optional<ops::v1::Transition> closed = recorder.WaitForTransition(
        id, ops::v1::SESSION_STATE_CLOSED, absl::Seconds(10));
    ASSERT_TRUE(closed.has_value()) << Describe(recorder.For(id));
    EXPECT_EQ(closed->close_reason(), "grace_expired");
    // Not before the grace window ran out.
    EXPECT_GE(absl::FromUnixMicros(closed->at().seconds() * 1000000 +
                                   closed->at().nanos() / 1000) -
                  absl::FromUnixMicros(held->at().seconds() * 1000000 +
                                       held->at().nanos() / 1000),
              absl::Seconds(1));
  }
  ASSERT_OK_AND_ASSIGN(auto by_player, SessionsByPlayer(cluster->ops()));
  EXPECT_TRUE(by_player.empty());
}

TEST(GatewayFreezeTest, FrozenGatewayLeavesNoDuplicatesAndCountsAgree) {
  ClusterOptions options;
  options.service_flags = {"--suspect_after=300ms", "--liveness_timeout=600ms",
                           "--reconnect_grace=60s", "--advance_interval=10ms"};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cluster> cluster,
                       Cluster::Start(options));
  ASSERT_OK_AND_ASSIGN(std::vector<Player> players,
                       LogInPlayers(*cluster, "frozen-gateway"));

  // Frozen until every session has lost its connection to the liveness
  // timeout: longer than that timeout by construction.
  ASSERT_OK(cluster->gateway()->Signal(SIGSTOP));
  for (const Player& player : players) {
    ASSERT_OK(cluster->ops().WaitForState(player.welcome.session_id(),
                                          ops::v1::SESSION_STATE_RECONNECTING,
                                          absl::Seconds(15)));
  }
  ASSERT_OK(cluster->gateway()->Signal(SIGCONT));

  // The service closed those connections while the gateway slept; once it
  // runs again it carries the closes out, and each player comes back on a
  // new connection with its token.
  for (Player& player : players) {
    SCOPED_TRACE(player.name);
    ASSERT_OK(player.client->WaitForTransportClose(absl::Seconds(15)));
    ASSERT_OK_AND_ASSIGN(auto fresh,
                         GameTestClient::Connect(player.client->transport(),
                                                 cluster->game_port()));
    ASSERT_OK_AND_ASSIGN(
        Welcome resumed,
        ResumeUntilWelcome(*fresh, player.welcome.resume_token(),
                           absl::Seconds(20)));
    EXPECT_EQ(resumed.session_id(), player.welcome.session_id());
    ASSERT_OK(fresh->Ping());
    player.client = std::move(fresh);
  }
  EXPECT_TRUE(cluster->service()->Running());
  EXPECT_TRUE(cluster->gateway()->Running());
  ExpectConsistentCounts(*cluster, players);
}

}  // namespace
}  // namespace gss::testing
