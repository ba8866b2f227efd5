// End-to-end: a restarted session service has a new instance id that
// clients see; SIGTERM drains (health NOT_SERVING, peers told) and exits 0.
#include <signal.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/cluster.h"
#include "tests/support/game_test_client.h"
#include "tests/support/ops_client.h"
#include "tests/support/prometheus_text.h"
#include "tests/support/test_macros.h"

namespace gss::testing {
namespace {

using game::v1::ServerMessage;
using game::v1::Welcome;
using grpc::health::v1::HealthCheckResponse;

// The gateway retries its link quickly, so a restarted service is found
// within a second.
ClusterOptions RestartOptions() {
  ClusterOptions options;
  options.gateway_flags = {"--link_backoff_initial=50ms",
                           "--link_backoff_max=500ms"};
  return options;
}

class RestartTest : public ::testing::TestWithParam<Transport> {
 protected:
  absl::StatusOr<std::unique_ptr<GameTestClient>> Connect() {
    return GameTestClient::Connect(GetParam(), cluster_->game_port());
  }
  std::unique_ptr<Cluster> cluster_;
};

TEST_P(RestartTest, RestartedServiceHasANewInstanceId) {
  ASSERT_OK_AND_ASSIGN(cluster_, Cluster::Start(RestartOptions()));
  ASSERT_OK_AND_ASSIGN(auto survivor, Connect());
  ASSERT_OK_AND_ASSIGN(Welcome before, survivor->Login("survivor"));
  const std::string first_instance = before.server_info().instance_id();
  ASSERT_FALSE(first_instance.empty());

  // A crash: the gateway keeps its peers and finds the new service.
  cluster_->KillService();
  ASSERT_OK(cluster_->StartService());
  ASSERT_OK(cluster_->WaitForGatewayAttached(absl::Seconds(20)));
  ASSERT_OK_AND_ASSIGN(ops::v1::ServerInfo info,
                       cluster_->ops().GetServerInfo());
  EXPECT_NE(info.instance_id(), first_instance);

  // A new client sees the new instance id.
  ASSERT_OK_AND_ASSIGN(auto newcomer, Connect());
  ASSERT_OK_AND_ASSIGN(Welcome fresh, newcomer->Login("newcomer"));
  EXPECT_NE(fresh.server_info().instance_id(), first_instance);
  EXPECT_EQ(fresh.server_info().instance_id(), info.instance_id());

  // The surviving connection was told when the service went away, then
  // that its session is unknown; its resume is refused naming the new
  // instance, and it can log in again on the same connection.
  ASSERT_OK_AND_ASSIGN(
      ServerMessage unavailable,
      survivor->ReceiveBody(ServerMessage::kDisconnect, absl::Seconds(10)));
  EXPECT_EQ(unavailable.disconnect().reason(), "service_unavailable");
  ASSERT_OK_AND_ASSIGN(
      ServerMessage unknown,
      survivor->ReceiveBody(ServerMessage::kDisconnect, absl::Seconds(10)));
  EXPECT_EQ(unknown.disconnect().reason(), "session_unknown");
  EXPECT_FALSE(survivor->transport_closed());
  ASSERT_OK_AND_ASSIGN(ServerMessage refused,
                       survivor->Resume(before.resume_token()));
  ASSERT_TRUE(refused.has_resume_rejected()) << Describe(refused);
  EXPECT_EQ(refused.resume_rejected().server_info().instance_id(),
            info.instance_id());
  ASSERT_OK_AND_ASSIGN(Welcome again, survivor->Login("survivor"));
  EXPECT_EQ(again.server_info().instance_id(), info.instance_id());
  EXPECT_TRUE(cluster_->gateway()->Running());
}

TEST_P(RestartTest, GracefulRestartAlsoChangesTheInstanceId) {
  ASSERT_OK_AND_ASSIGN(cluster_, Cluster::Start(RestartOptions()));
  ASSERT_OK_AND_ASSIGN(auto first, Connect());
  ASSERT_OK_AND_ASSIGN(Welcome before, first->Login("first"));
  ASSERT_OK_AND_ASSIGN(ExitStatus stopped, cluster_->StopService());
  EXPECT_TRUE(stopped.exited && stopped.code == 0) << stopped.ToString();
  ASSERT_OK(cluster_->StartService());
  ASSERT_OK(cluster_->WaitForGatewayAttached(absl::Seconds(20)));
  ASSERT_OK_AND_ASSIGN(auto second, Connect());
  ASSERT_OK_AND_ASSIGN(Welcome after, second->Login("second"));
  EXPECT_NE(after.server_info().instance_id(),
            before.server_info().instance_id());
}

TEST_P(RestartTest, GatewayRestartKeepsSessionsResumable) {
  ClusterOptions options = RestartOptions();
  options.service_flags = {"--reconnect_grace=20s"};
  ASSERT_OK_AND_ASSIGN(cluster_, Cluster::Start(options));
  ASSERT_OK_AND_ASSIGN(auto before, Connect());
  ASSERT_OK_AND_ASSIGN(Welcome login, before->Login("traveller"));
  ASSERT_OK_AND_ASSIGN(auto other, Connect());
  ASSERT_OK_AND_ASSIGN(Welcome other_login, other->Login("other"));

  // The link breaks: every peer of that gateway lost its transport.
  cluster_->KillGateway();
  ASSERT_OK(cluster_->ops().WaitForState(login.session_id(),
                                         ops::v1::SESSION_STATE_RECONNECTING,
                                         absl::Seconds(5)));
  ASSERT_OK(cluster_->ops().WaitForState(other_login.session_id(),
                                         ops::v1::SESSION_STATE_RECONNECTING,
                                         absl::Seconds(5)));
  ASSERT_OK(cluster_->StartGateway());
  ASSERT_OK(cluster_->WaitForGatewayAttached(absl::Seconds(10)));

  // Through the new gateway, the session resumes where it was.
  ASSERT_OK_AND_ASSIGN(auto after, Connect());
  ASSERT_OK_AND_ASSIGN(ServerMessage resumed,
                       after->Resume(login.resume_token()));
  ASSERT_TRUE(resumed.has_welcome()) << Describe(resumed);
  EXPECT_EQ(resumed.welcome().session_id(), login.session_id());
  EXPECT_EQ(resumed.welcome().server_info().instance_id(),
            login.server_info().instance_id());
  EXPECT_EQ(resumed.welcome().position().ShortDebugString(),
            login.position().ShortDebugString());
  ASSERT_OK(after->Ping());
  // The other session is still held, untouched by this resume.
  ASSERT_OK_AND_ASSIGN(ops::v1::Session held,
                       cluster_->ops().GetSession(other_login.session_id()));
  EXPECT_EQ(held.state(), ops::v1::SESSION_STATE_RECONNECTING);
}

TEST_P(RestartTest, SigtermDrainsAndExitsZero) {
  ClusterOptions options = RestartOptions();
  options.service_flags = {"--drain_deadline=3s"};
  ASSERT_OK_AND_ASSIGN(cluster_, Cluster::Start(options));
  OpsClient& ops = cluster_->ops();
  ASSERT_OK_AND_ASSIGN(auto a, Connect());
  ASSERT_OK_AND_ASSIGN(auto b, Connect());
  ASSERT_OK(a->Login("drain-a"));
  ASSERT_OK(b->Login("drain-b"));
  ASSERT_OK_AND_ASSIGN(HealthCheckResponse::ServingStatus serving,
                       ops.CheckHealth());
  EXPECT_EQ(serving, HealthCheckResponse::SERVING);
  std::unique_ptr<HealthWatch> health = ops.WatchHealth();
  std::optional<HealthCheckResponse> first_status =
      health->Next(absl::Seconds(5));
  ASSERT_TRUE(first_status.has_value());
  EXPECT_EQ(first_status->status(), HealthCheckResponse::SERVING);

  const absl::Time term_at = absl::Now();
  ASSERT_OK(cluster_->service()->Signal(SIGTERM));

  // Health turns NOT_SERVING while the service drains: seen on the watch or
  // by polling, whichever catches it.
  bool not_serving = false;
  WaitFor(
      [&] {
        std::optional<HealthCheckResponse> update =
            health->Next(absl::ZeroDuration());
        if (update && update->status() == HealthCheckResponse::NOT_SERVING) {
          not_serving = true;
        }
        auto polled = ops.CheckHealth();
        if (polled.ok() && *polled == HealthCheckResponse::NOT_SERVING) {
          not_serving = true;
        }
        return not_serving || !cluster_->service()->Running();
      },
      absl::Seconds(5));
  if (!not_serving) {
    // The watch may deliver the update after the last poll.
    std::optional<HealthCheckResponse> update = health->NextMatching(
        [](const HealthCheckResponse& r) {
          return r.status() == HealthCheckResponse::NOT_SERVING;
        },
        absl::Seconds(1));
    not_serving = update.has_value();
  }
  EXPECT_TRUE(not_serving) << "health never reported NOT_SERVING";

  // Every peer is told why.
  for (GameTestClient* peer : {a.get(), b.get()}) {
    absl::StatusOr<ServerMessage> told =
        peer->ReceiveBody(ServerMessage::kDisconnect, absl::Seconds(5));
    ASSERT_TRUE(told.ok()) << told.status();
    EXPECT_TRUE(told->disconnect().reason() == "draining" ||
                told->disconnect().reason() == "server_shutdown")
        << Describe(*told);
  }

  // A login now must not succeed: refused as draining, or no service left.
  absl::StatusOr<std::unique_ptr<GameTestClient>> late = Connect();
  if (late.ok()) {
    absl::StatusOr<ServerMessage> reply =
        (*late)->LoginReply("late", absl::Seconds(2));
    if (reply.ok()) {
      EXPECT_FALSE(reply->has_welcome()) << Describe(*reply);
      if (reply->has_login_rejected()) {
        EXPECT_EQ(reply->login_rejected().reason(), "draining");
      }
    }
  }

  // And the process exits 0 within the drain deadline (plus slack).
  ASSERT_OK_AND_ASSIGN(ExitStatus exit,
                       cluster_->service()->WaitForExit(absl::Seconds(8)));
  EXPECT_TRUE(exit.exited && exit.code == 0) << exit.ToString();
  EXPECT_LT(absl::Now() - term_at, absl::Seconds(3) + absl::Seconds(5));
  EXPECT_TRUE(cluster_->gateway()->Running());
}

// The service closes every connection when it starts draining; the sessions
// of those connections must not stay Active on a connection that no longer
// exists (the gateway does not report a close the service asked for), and
// the drain need not wait for players that are already gone.
TEST_P(RestartTest, DrainedPeersDoNotStayActive) {
  ClusterOptions options = RestartOptions();
  options.service_flags = {"--drain_deadline=20s"};
  ASSERT_OK_AND_ASSIGN(cluster_, Cluster::Start(options));
  OpsClient& ops = cluster_->ops();
  ASSERT_OK_AND_ASSIGN(auto peer, Connect());
  ASSERT_OK_AND_ASSIGN(Welcome welcome, peer->Login("drained"));
  const absl::Time term_at = absl::Now();
  ASSERT_OK(cluster_->service()->Signal(SIGTERM));
  ASSERT_OK_AND_ASSIGN(
      ServerMessage told,
      peer->ReceiveBody(ServerMessage::kDisconnect, absl::Seconds(5)));
  EXPECT_EQ(told.disconnect().reason(), "draining");
  EXPECT_OK(peer->WaitForTransportClose(absl::Seconds(5)));
  // While the service drains (the ops API still answers), the session has
  // left Active.
  absl::StatusOr<ops::v1::SessionState> state = absl::UnknownError("unasked");
  const bool left_active = WaitFor(
      [&] {
        state = ops.StateOf(welcome.session_id());
        return !cluster_->service()->Running() ||
               (state.ok() && *state != ops::v1::SESSION_STATE_ACTIVE);
      },
      absl::Seconds(3), absl::Milliseconds(20));
  EXPECT_TRUE(left_active)
      << "session still "
      << (state.ok() ? ops::v1::SessionState_Name(*state)
                     : state.status().ToString())
      << " 3 s after its connection was closed for draining";
  // Nobody is left to wait for: the drain ends well before half its
  // deadline (10 s).
  ASSERT_OK_AND_ASSIGN(ExitStatus exit,
                       cluster_->service()->WaitForExit(absl::Seconds(20)));
  EXPECT_TRUE(exit.exited && exit.code == 0) << exit.ToString();
  EXPECT_LT(absl::Now() - term_at, absl::Seconds(5))
      << "the drain waited for players it had already disconnected";
}

// Operators watch gss_draining during a drain, so /metrics must answer for
// as long as the process lives. A gateway that stopped reading (SIGSTOP)
// holds the link's shutdown, and so the process, until close to the drain
// deadline: the scrapes must keep working through all of it.
TEST(DrainMetricsTest, AScrapeSeesTheDrainUntilTheProcessExits) {
  ClusterOptions options = RestartOptions();
  constexpr absl::Duration kDrainDeadline = absl::Seconds(4);
  options.service_flags = {
      absl::StrCat("--drain_deadline=", absl::FormatDuration(kDrainDeadline))};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cluster> cluster,
                       Cluster::Start(options));
  std::vector<std::unique_ptr<GameTestClient>> players;
  for (const char* name : {"scraped-a", "scraped-b"}) {
    ASSERT_OK_AND_ASSIGN(
        auto player,
        GameTestClient::Connect(Transport::kTcp, cluster->game_port()));
    ASSERT_OK(player->Login(name));
    players.push_back(std::move(player));
  }
  const int port = cluster->service_metrics_port();
  ASSERT_OK_AND_ASSIGN(std::vector<PrometheusSample> before,
                       ScrapeMetrics(port));
  EXPECT_EQ(SumSamples(before, "gss_draining"), 0);
  EXPECT_EQ(SumSamples(before, "gss_sessions", {{"state", "active"}}), 2);

  ASSERT_OK(cluster->gateway()->Signal(SIGSTOP));
  const absl::Time term_at = absl::Now();
  ASSERT_OK(cluster->service()->Signal(SIGTERM));
  struct Scrape {
    absl::Duration at;  // Since SIGTERM.
    bool ok = false;
    double draining = 0;
    double live = 0;  // Active and suspect sessions.
  };
  std::vector<Scrape> scrapes;
  WaitFor(
      [&] {
        absl::StatusOr<std::vector<PrometheusSample>> samples =
            ScrapeMetrics(port);
        Scrape scrape{.at = absl::Now() - term_at, .ok = samples.ok()};
        if (samples.ok()) {
          scrape.draining = SumSamples(*samples, "gss_draining");
          scrape.live =
              SumSamples(*samples, "gss_sessions", {{"state", "active"}}) +
              SumSamples(*samples, "gss_sessions", {{"state", "suspect"}});
        }
        scrapes.push_back(scrape);
        return !cluster->service()->Running();
      },
      kDrainDeadline + absl::Seconds(5), absl::Milliseconds(50));
  ASSERT_OK(cluster->gateway()->Signal(SIGCONT));
  ASSERT_OK_AND_ASSIGN(ExitStatus exit,
                       cluster->service()->WaitForExit(absl::Seconds(5)));
  EXPECT_TRUE(exit.exited && exit.code == 0) << exit.ToString();

  // Once a scrape failed (the endpoint stopping just before the exit), none
  // succeeded again; the last success came late in the drain, with
  // gss_draining 1 and no live session left.
  std::optional<Scrape> last_ok;
  bool failed = false;
  int draining_seen = 0;
  for (const Scrape& scrape : scrapes) {
    if (!scrape.ok) {
      failed = true;
      continue;
    }
    EXPECT_FALSE(failed) << "a scrape failed and a later one worked, at "
                         << scrape.at;
    if (scrape.draining == 1) ++draining_seen;
    last_ok = scrape;
  }
  EXPECT_GT(draining_seen, 0) << "no scrape saw gss_draining 1";
  ASSERT_TRUE(last_ok.has_value()) << "no scrape after SIGTERM worked";
  EXPECT_GE(last_ok->at, kDrainDeadline / 2)
      << "the metrics endpoint stopped answering " << last_ok->at
      << " after SIGTERM, long before the process exited";
  EXPECT_EQ(last_ok->draining, 1);
  EXPECT_EQ(last_ok->live, 0);
}

INSTANTIATE_TEST_SUITE_P(Transports, RestartTest,
                         ::testing::Values(Transport::kTcp, Transport::kUdp),
                         [](const auto& info) {
                           return TransportName(info.param);
                         });

}  // namespace
}  // namespace gss::testing
