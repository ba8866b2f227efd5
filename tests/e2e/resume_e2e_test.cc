// End-to-end: resuming a held session over a new connection keeps its
// position and ticks; tokens are single use; made-up tokens fail harmlessly.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/cluster.h"
#include "tests/support/game_test_client.h"
#include "tests/support/ops_client.h"
#include "tests/support/test_macros.h"

namespace gss::testing {
namespace {

using game::v1::MoveResult;
using game::v1::ServerMessage;
using game::v1::Welcome;

class ResumeTest : public ::testing::TestWithParam<Transport> {
 protected:
  void SetUp() override {
    ClusterOptions options;
    options.service_flags = {"--reconnect_grace=20s", "--movement_tick=100ms",
                             "--max_ticks_ahead=4", "--advance_interval=10ms"};
    // A silent UDP peer is noticed as lost after half a second.
    options.gateway_flags = {"--udp_idle_timeout=500ms"};
    ASSERT_OK_AND_ASSIGN(cluster_, Cluster::Start(options));
  }

  absl::StatusOr<std::unique_ptr<GameTestClient>> Connect() {
    return GameTestClient::Connect(GetParam(), cluster_->game_port());
  }

  // Drops `client` uncleanly and waits until its session is held.
  void LoseAndAwaitReconnecting(GameTestClient& client,
                                const std::string& session_id) {
    client.CloseAbruptly();
    ASSERT_OK(cluster_->ops().WaitForState(
        session_id, ops::v1::SESSION_STATE_RECONNECTING, absl::Seconds(5)));
  }

  std::unique_ptr<Cluster> cluster_;
};

TEST_P(ResumeTest, ResumeOnNewConnectionKeepsPositionAndTicks) {
  ASSERT_OK_AND_ASSIGN(auto first, Connect());
  ASSERT_OK_AND_ASSIGN(Welcome login, first->Login("wanderer"));
  const std::string session_id = login.session_id();
  const int64_t t = first->EstimatedServerTick();
  ASSERT_OK_AND_ASSIGN(MoveResult m1, first->Move(t + 1, 1, 0));
  ASSERT_TRUE(m1.accepted()) << m1.ShortDebugString();
  ASSERT_OK_AND_ASSIGN(MoveResult m2, first->Move(t + 2, 0, 1));
  ASSERT_TRUE(m2.accepted()) << m2.ShortDebugString();
  const game::v1::Position held_position = m2.position();

  ASSERT_NO_FATAL_FAILURE(LoseAndAwaitReconnecting(*first, session_id));

  ASSERT_OK_AND_ASSIGN(auto second, Connect());
  ASSERT_OK_AND_ASSIGN(ServerMessage reply,
                       second->Resume(login.resume_token()));
  ASSERT_TRUE(reply.has_welcome()) << Describe(reply);
  const Welcome& resumed = reply.welcome();
  EXPECT_TRUE(resumed.resumed());
  EXPECT_EQ(resumed.session_id(), session_id);
  EXPECT_EQ(resumed.player_id(), login.player_id());
  EXPECT_EQ(resumed.position().x(), held_position.x());
  EXPECT_EQ(resumed.position().y(), held_position.y());
  EXPECT_EQ(resumed.last_move_tick(), t + 2);
  EXPECT_EQ(resumed.health(), login.health());
  EXPECT_EQ(resumed.server_info().instance_id(),
            login.server_info().instance_id());
  EXPECT_FALSE(resumed.resume_token().empty());
  EXPECT_NE(resumed.resume_token(), login.resume_token());
  EXPECT_GE(resumed.server_tick(), login.server_tick());

  // The tick state came along: t+2 is stale, t+3 goes on from the held spot.
  ASSERT_OK_AND_ASSIGN(MoveResult stale, second->Move(t + 2, 1, 0));
  EXPECT_EQ(stale.rejection(), "stale_tick");
  ASSERT_OK_AND_ASSIGN(MoveResult m3, second->Move(t + 3, 1, 0));
  EXPECT_TRUE(m3.accepted()) << m3.ShortDebugString();
  if (!m3.clamped()) {
    EXPECT_EQ(m3.position().x(), held_position.x() + 1);
  }

  ASSERT_OK_AND_ASSIGN(ops::v1::Session session,
                       cluster_->ops().GetSession(session_id));
  EXPECT_EQ(session.state(), ops::v1::SESSION_STATE_ACTIVE);
  EXPECT_EQ(session.resumes(), 1u);
  EXPECT_EQ(session.last_move_tick(), t + 3);
  EXPECT_TRUE(session.has_remote());
}

TEST_P(ResumeTest, EachTokenWorksOnce) {
  ASSERT_OK_AND_ASSIGN(auto first, Connect());
  ASSERT_OK_AND_ASSIGN(Welcome login, first->Login("once"));
  const std::string session_id = login.session_id();
  ASSERT_NO_FATAL_FAILURE(LoseAndAwaitReconnecting(*first, session_id));

  ASSERT_OK_AND_ASSIGN(auto second, Connect());
  ASSERT_OK_AND_ASSIGN(ServerMessage resumed,
                       second->Resume(login.resume_token()));
  ASSERT_TRUE(resumed.has_welcome()) << Describe(resumed);
  const std::string next_token = resumed.welcome().resume_token();
  ASSERT_NO_FATAL_FAILURE(LoseAndAwaitReconnecting(*second, session_id));

  // The spent token fails, and the connection stays open for a login.
  ASSERT_OK_AND_ASSIGN(auto third, Connect());
  ASSERT_OK_AND_ASSIGN(ServerMessage reused,
                       third->Resume(login.resume_token()));
  ASSERT_TRUE(reused.has_resume_rejected()) << Describe(reused);
  EXPECT_FALSE(reused.resume_rejected().reason().empty());
  EXPECT_EQ(reused.resume_rejected().server_info().instance_id(),
            login.server_info().instance_id());
  ASSERT_OK_AND_ASSIGN(ops::v1::Session held,
                       cluster_->ops().GetSession(session_id));
  EXPECT_EQ(held.state(), ops::v1::SESSION_STATE_RECONNECTING);
  ASSERT_OK_AND_ASSIGN(Welcome other, third->Login("someone-else"));
  EXPECT_NE(other.session_id(), session_id);

  // The token the resume handed out still works.
  ASSERT_OK_AND_ASSIGN(auto fourth, Connect());
  ASSERT_OK_AND_ASSIGN(ServerMessage again, fourth->Resume(next_token));
  ASSERT_TRUE(again.has_welcome()) << Describe(again);
  EXPECT_EQ(again.welcome().session_id(), session_id);
  ASSERT_OK(fourth->Ping());
}

TEST_P(ResumeTest, MadeUpTokensFailAndWearNothingDown) {
  ASSERT_OK_AND_ASSIGN(auto owner, Connect());
  ASSERT_OK_AND_ASSIGN(Welcome login, owner->Login("owner"));
  const std::string session_id = login.session_id();
  ASSERT_EQ(login.resume_token().size(), 48u) << login.resume_token();
  ASSERT_NO_FATAL_FAILURE(LoseAndAwaitReconnecting(*owner, session_id));

  // The right session id with wrong secrets (more than max_resume_attempts,
  // 3 by default), an unknown session, and no token at all.
  std::vector<std::string> forged;
  for (char c : std::string("0123")) {
    forged.push_back(absl::StrCat(session_id, std::string(32, c)));
  }
  forged.push_back(std::string(48, 'a'));
  forged.push_back("not-a-token");
  forged.push_back("");
  ASSERT_OK_AND_ASSIGN(auto stranger, Connect());
  for (const std::string& token : forged) {
    ASSERT_OK_AND_ASSIGN(ServerMessage reply, stranger->Resume(token));
    ASSERT_TRUE(reply.has_resume_rejected())
        << "token '" << token << "': " << Describe(reply);
    EXPECT_EQ(reply.resume_rejected().server_info().instance_id(),
              login.server_info().instance_id());
  }
  // The stranger's connection is still open for a login.
  ASSERT_OK_AND_ASSIGN(Welcome stranger_login, stranger->Login("stranger"));
  EXPECT_NE(stranger_login.session_id(), session_id);

  // The owner's session is still held, and its real token still works.
  ASSERT_OK_AND_ASSIGN(ops::v1::Session held,
                       cluster_->ops().GetSession(session_id));
  EXPECT_EQ(held.state(), ops::v1::SESSION_STATE_RECONNECTING);
  ASSERT_OK_AND_ASSIGN(auto back, Connect());
  ASSERT_OK_AND_ASSIGN(ServerMessage resumed,
                       back->Resume(login.resume_token()));
  ASSERT_TRUE(resumed.has_welcome()) << Describe(resumed);
  EXPECT_EQ(resumed.welcome().session_id(), session_id);
}

TEST_P(ResumeTest, ResumeBeforeTheLossIsNoticedClosesTheOldConnection) {
  ASSERT_OK_AND_ASSIGN(auto old_link, Connect());
  ASSERT_OK_AND_ASSIGN(Welcome login, old_link->Login("hasty"));
  // The client believes its link dead; the server still has it.
  ASSERT_OK_AND_ASSIGN(auto new_link, Connect());
  ASSERT_OK_AND_ASSIGN(ServerMessage reply,
                       new_link->Resume(login.resume_token()));
  ASSERT_TRUE(reply.has_welcome()) << Describe(reply);
  EXPECT_EQ(reply.welcome().session_id(), login.session_id());
  EXPECT_TRUE(reply.welcome().resumed());
  // The host closes the displaced connection; the new one carries on.
  EXPECT_OK(old_link->WaitForTransportClose(absl::Seconds(5)));
  if (GetParam() == Transport::kUdp) {
    // Closed by the service, not by the gateway's idle timeout.
    EXPECT_EQ(old_link->udp_disconnect_code(),
              wire::DisconnectCode::kClosedByService);
  }
  ASSERT_OK(new_link->Ping());
  ASSERT_OK_AND_ASSIGN(ops::v1::Session session,
                       cluster_->ops().GetSession(login.session_id()));
  EXPECT_EQ(session.state(), ops::v1::SESSION_STATE_ACTIVE);
}

TEST(ResumeGraceTest, ResumeAfterTheGraceWindowFails) {
  ClusterOptions options;
  options.service_flags = {"--reconnect_grace=300ms",
                           "--advance_interval=10ms"};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cluster> cluster,
                       Cluster::Start(options));
  ASSERT_OK_AND_ASSIGN(auto client, GameTestClient::Connect(
                                        Transport::kTcp, cluster->game_port()));
  ASSERT_OK_AND_ASSIGN(Welcome login, client->Login("latecomer"));
  client->CloseAbruptly();
  ASSERT_OK(cluster->ops().WaitForState(
      login.session_id(), ops::v1::SESSION_STATE_CLOSED, absl::Seconds(5)));
  ASSERT_OK_AND_ASSIGN(auto back, GameTestClient::Connect(
                                      Transport::kTcp, cluster->game_port()));
  ASSERT_OK_AND_ASSIGN(ServerMessage reply, back->Resume(login.resume_token()));
  ASSERT_TRUE(reply.has_resume_rejected()) << Describe(reply);
  // The player may log in afresh: a new session.
  ASSERT_OK_AND_ASSIGN(Welcome fresh, back->Login("latecomer"));
  EXPECT_NE(fresh.session_id(), login.session_id());
  EXPECT_FALSE(fresh.resumed());
}

// A session belongs to no transport: a TCP session resumes over UDP and
// back.
TEST(ResumeAcrossTransportsTest, TcpSessionResumesOverUdpAndBack) {
  ClusterOptions options;
  options.service_flags = {"--reconnect_grace=20s"};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cluster> cluster,
                       Cluster::Start(options));
  const int port = cluster->game_port();
  ASSERT_OK_AND_ASSIGN(auto tcp,
                       GameTestClient::Connect(Transport::kTcp, port));
  ASSERT_OK_AND_ASSIGN(Welcome login, tcp->Login("amphibian"));
  tcp->CloseAbruptly();
  ASSERT_OK(cluster->ops().WaitForState(login.session_id(),
                                        ops::v1::SESSION_STATE_RECONNECTING,
                                        absl::Seconds(5)));
  ASSERT_OK_AND_ASSIGN(auto udp,
                       GameTestClient::Connect(Transport::kUdp, port));
  ASSERT_OK_AND_ASSIGN(ServerMessage over_udp,
                       udp->Resume(login.resume_token()));
  ASSERT_TRUE(over_udp.has_welcome()) << Describe(over_udp);
  EXPECT_EQ(over_udp.welcome().session_id(), login.session_id());
  ASSERT_OK(udp->Ping());
  ASSERT_OK_AND_ASSIGN(ops::v1::Session on_udp,
                       cluster->ops().GetSession(login.session_id()));
  EXPECT_EQ(on_udp.remote().connection_id(), udp->connection_id());

  // Back to TCP while the UDP link still looks alive to the server.
  ASSERT_OK_AND_ASSIGN(auto tcp_again,
                       GameTestClient::Connect(Transport::kTcp, port));
  ASSERT_OK_AND_ASSIGN(ServerMessage over_tcp,
                       tcp_again->Resume(over_udp.welcome().resume_token()));
  ASSERT_TRUE(over_tcp.has_welcome()) << Describe(over_tcp);
  EXPECT_EQ(over_tcp.welcome().session_id(), login.session_id());
  EXPECT_OK(udp->WaitForTransportClose(absl::Seconds(5)));
  ASSERT_OK(tcp_again->Ping());
  ASSERT_OK_AND_ASSIGN(ops::v1::Session on_tcp,
                       cluster->ops().GetSession(login.session_id()));
  EXPECT_EQ(on_tcp.resumes(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Transports, ResumeTest,
                         ::testing::Values(Transport::kTcp, Transport::kUdp),
                         [](const auto& info) {
                           return TransportName(info.param);
                         });

}  // namespace
}  // namespace gss::testing
