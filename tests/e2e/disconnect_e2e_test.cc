// End-to-end: one peer leaving (orderly Goodbye, TCP reset or close, UDP
// silence) ends or holds only its own session; the other stays queryable.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
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

struct Peers {
  std::unique_ptr<Cluster> cluster;
  std::unique_ptr<TransitionRecorder> recorder;
  std::unique_ptr<GameTestClient> leaving;
  std::unique_ptr<GameTestClient> staying;
  std::string leaving_id;
  std::string staying_id;
};

class DisconnectBase : public ::testing::Test {
 protected:
  virtual Transport transport() const = 0;

  // Starts a cluster and logs in two peers over the test's transport.
  void StartPeers(const ClusterOptions& options) {
    ASSERT_OK_AND_ASSIGN(peers_.cluster, Cluster::Start(options));
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<SessionWatch> watch,
                         peers_.cluster->ops().WatchSynced());
    peers_.recorder = std::make_unique<TransitionRecorder>(std::move(watch));
    const int port = peers_.cluster->game_port();
    ASSERT_OK_AND_ASSIGN(peers_.leaving,
                         GameTestClient::Connect(transport(), port));
    ASSERT_OK_AND_ASSIGN(peers_.staying,
                         GameTestClient::Connect(transport(), port));
    ASSERT_OK_AND_ASSIGN(game::v1::Welcome leaving,
                         peers_.leaving->Login("leaving"));
    ASSERT_OK_AND_ASSIGN(game::v1::Welcome staying,
                         peers_.staying->Login("staying"));
    peers_.leaving_id = leaving.session_id();
    peers_.staying_id = staying.session_id();
  }

  // The staying peer is still Active, answers pings, was told nothing, and
  // had no transition after its login.
  void ExpectStayingUntouched() {
    OpsClient& ops = peers_.cluster->ops();
    ASSERT_OK(peers_.staying->Ping());
    EXPECT_FALSE(
        peers_.staying->InboxHas(game::v1::ServerMessage::kDisconnect));
    ASSERT_OK_AND_ASSIGN(ops::v1::Session session,
                         ops.GetSession(peers_.staying_id));
    EXPECT_EQ(session.state(), ops::v1::SESSION_STATE_ACTIVE);
    EXPECT_EQ(session.display_name(), "staying");
    ASSERT_OK_AND_ASSIGN(ops::v1::Session by_player,
                         ops.GetSessionByPlayer(session.player_id()));
    EXPECT_EQ(by_player.session_id(), peers_.staying_id);
    peers_.recorder->Pump(absl::ZeroDuration());
    std::vector<Transition> path = peers_.recorder->For(peers_.staying_id);
    ASSERT_FALSE(path.empty());
    EXPECT_EQ(path.back().to(), ops::v1::SESSION_STATE_ACTIVE)
        << Describe(path);
    EXPECT_EQ(path.back().cause(), "login_succeeded") << Describe(path);
    EXPECT_TRUE(peers_.cluster->service()->Running());
    EXPECT_TRUE(peers_.cluster->gateway()->Running());
  }

  Peers peers_;
};

class DisconnectTest : public DisconnectBase,
                       public ::testing::WithParamInterface<Transport> {
 protected:
  Transport transport() const override { return GetParam(); }
};

class TcpDisconnectTest : public DisconnectBase {
 protected:
  Transport transport() const override { return Transport::kTcp; }
};

class UdpDisconnectTest : public DisconnectBase {
 protected:
  Transport transport() const override { return Transport::kUdp; }
};

TEST_P(DisconnectTest, GoodbyeClosesOnlyThatSession) {
  ASSERT_NO_FATAL_FAILURE(StartPeers(ClusterOptions()));
  ASSERT_OK(peers_.leaving->Goodbye());
  std::optional<Transition> closed = peers_.recorder->WaitForTransition(
      peers_.leaving_id, ops::v1::SESSION_STATE_CLOSED, absl::Seconds(5));
  ASSERT_TRUE(closed.has_value())
      << Describe(peers_.recorder->For(peers_.leaving_id));
  EXPECT_EQ(closed->close_reason(), "transport_closed");
  EXPECT_EQ(closed->from(), ops::v1::SESSION_STATE_ACTIVE);
  ASSERT_OK_AND_ASSIGN(SessionState state,
                       peers_.cluster->ops().StateOf(peers_.leaving_id));
  EXPECT_EQ(state, ops::v1::SESSION_STATE_CLOSED);
  ExpectStayingUntouched();
}

TEST_P(DisconnectTest, UncleanLossHoldsOnlyThatSessionForResume) {
  ClusterOptions options;
  // UDP has no close: silence is noticed by the gateway's idle timeout.
  options.gateway_flags = {"--udp_idle_timeout=500ms"};
  ASSERT_NO_FATAL_FAILURE(StartPeers(options));
  // TCP: a reset. UDP: the socket goes away without a word.
  peers_.leaving->CloseAbruptly();
  peers_.recorder->set_between_interval(absl::Milliseconds(100));
  std::optional<Transition> held = peers_.recorder->WaitForTransition(
      peers_.leaving_id, ops::v1::SESSION_STATE_RECONNECTING, absl::Seconds(5),
      // Keeps the staying UDP peer inside the gateway's idle timeout.
      [&] { EXPECT_OK(peers_.staying->Ping()); });
  ASSERT_TRUE(held.has_value())
      << Describe(peers_.recorder->For(peers_.leaving_id));
  EXPECT_EQ(held->cause(), "transport_lost");
  ASSERT_OK_AND_ASSIGN(ops::v1::Session session,
                       peers_.cluster->ops().GetSession(peers_.leaving_id));
  EXPECT_EQ(session.state(), ops::v1::SESSION_STATE_RECONNECTING);
  EXPECT_FALSE(session.has_remote()) << "remote is unset while reconnecting";
  ExpectStayingUntouched();
}

// UDP has no FIN: its unclean loss is covered by UncleanLoss.
TEST_F(TcpDisconnectTest, CloseWithoutGoodbyeHoldsSession) {
  ASSERT_NO_FATAL_FAILURE(StartPeers(ClusterOptions()));
  peers_.leaving->CloseWithoutGoodbye();
  std::optional<Transition> held = peers_.recorder->WaitForTransition(
      peers_.leaving_id, ops::v1::SESSION_STATE_RECONNECTING, absl::Seconds(5));
  ASSERT_TRUE(held.has_value())
      << Describe(peers_.recorder->For(peers_.leaving_id));
  EXPECT_EQ(held->cause(), "transport_lost");
  ExpectStayingUntouched();
}

TEST_F(UdpDisconnectTest, DisconnectPacketIsAnOrderlyClose) {
  ASSERT_NO_FATAL_FAILURE(StartPeers(ClusterOptions()));
  // Code 0 alone, without a Goodbye message first.
  ASSERT_OK(peers_.leaving->SendUdpDisconnect(wire::DisconnectCode::kGoodbye));
  std::optional<Transition> closed = peers_.recorder->WaitForTransition(
      peers_.leaving_id, ops::v1::SESSION_STATE_CLOSED, absl::Seconds(5));
  ASSERT_TRUE(closed.has_value())
      << Describe(peers_.recorder->For(peers_.leaving_id));
  EXPECT_EQ(closed->close_reason(), "transport_closed");
  ExpectStayingUntouched();
}

// A client that sends only the Goodbye message and waits for the answer:
// over UDP the gateway closes with code 0 (the close it asked for), and no
// Disconnect game message comes first; over TCP the connection just closes.
TEST_P(DisconnectTest, AGoodbyeIsAnsweredByAnOrderlyCloseWithoutADisconnect) {
  ASSERT_NO_FATAL_FAILURE(StartPeers(ClusterOptions()));
  game::v1::ClientMessage goodbye;
  goodbye.mutable_goodbye();
  ASSERT_OK(peers_.leaving->Send(goodbye));
  ASSERT_OK(peers_.leaving->WaitForTransportClose(absl::Seconds(5)));
  EXPECT_FALSE(peers_.leaving->InboxHas(game::v1::ServerMessage::kDisconnect));
  if (transport() == Transport::kUdp) {
    EXPECT_EQ(peers_.leaving->udp_disconnect_code(),
              wire::DisconnectCode::kGoodbye);
  }
  std::optional<Transition> closed = peers_.recorder->WaitForTransition(
      peers_.leaving_id, ops::v1::SESSION_STATE_CLOSED, absl::Seconds(5));
  ASSERT_TRUE(closed.has_value())
      << Describe(peers_.recorder->For(peers_.leaving_id));
  EXPECT_EQ(closed->close_reason(), "transport_closed");
  ExpectStayingUntouched();
}

TEST_P(DisconnectTest, SecondLoginReplacesOnlyTheOlderSession) {
  ASSERT_NO_FATAL_FAILURE(StartPeers(ClusterOptions()));
  // The leaving peer's player logs in again on a new connection.
  ASSERT_OK_AND_ASSIGN(
      auto newer,
      GameTestClient::Connect(transport(), peers_.cluster->game_port()));
  ASSERT_OK_AND_ASSIGN(game::v1::Welcome newer_welcome,
                       newer->Login("leaving"));
  EXPECT_NE(newer_welcome.session_id(), peers_.leaving_id);
  ASSERT_OK_AND_ASSIGN(
      game::v1::ServerMessage told,
      peers_.leaving->ReceiveBody(game::v1::ServerMessage::kDisconnect,
                                  absl::Seconds(5)));
  EXPECT_EQ(told.disconnect().reason(), "replaced");
  EXPECT_OK(peers_.leaving->WaitForTransportClose(absl::Seconds(5)));
  std::optional<Transition> closed = peers_.recorder->WaitForTransition(
      peers_.leaving_id, ops::v1::SESSION_STATE_CLOSED, absl::Seconds(5));
  ASSERT_TRUE(closed.has_value())
      << Describe(peers_.recorder->For(peers_.leaving_id));
  EXPECT_EQ(closed->close_reason(), "replaced");
  ASSERT_OK_AND_ASSIGN(ops::v1::Session by_player,
                       peers_.cluster->ops().GetSessionByPlayer("leaving"));
  EXPECT_EQ(by_player.session_id(), newer_welcome.session_id());
  ASSERT_OK(newer->Ping());
  ExpectStayingUntouched();
}

TEST_P(DisconnectTest, SecondLoginIsRefusedWhenReplacementIsOff) {
  ClusterOptions options;
  options.service_flags = {"--replace_existing_login=false"};
  ASSERT_NO_FATAL_FAILURE(StartPeers(options));
  ASSERT_OK_AND_ASSIGN(
      auto newer,
      GameTestClient::Connect(transport(), peers_.cluster->game_port()));
  ASSERT_OK_AND_ASSIGN(game::v1::ServerMessage reply,
                       newer->LoginReply("leaving"));
  ASSERT_TRUE(reply.has_login_rejected()) << Describe(reply);
  EXPECT_EQ(reply.login_rejected().reason(), "already_logged_in");
  // The refused connection is closed; the logged-in one is untouched.
  EXPECT_OK(newer->WaitForTransportClose(absl::Seconds(5)));
  ASSERT_OK(peers_.leaving->Ping());
  EXPECT_FALSE(peers_.leaving->InboxHas(game::v1::ServerMessage::kDisconnect));
  ASSERT_OK_AND_ASSIGN(ops::v1::Session session,
                       peers_.cluster->ops().GetSession(peers_.leaving_id));
  EXPECT_EQ(session.state(), ops::v1::SESSION_STATE_ACTIVE);
  ExpectStayingUntouched();
}

INSTANTIATE_TEST_SUITE_P(Transports, DisconnectTest,
                         ::testing::Values(Transport::kTcp, Transport::kUdp),
                         [](const auto& info) {
                           return TransportName(info.param);
                         });

}  // namespace
}  // namespace gss::testing
