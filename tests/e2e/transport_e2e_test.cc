// End-to-end: transport details seen from the wire: the UDP challenge is
// bound to the client's address and idempotent; TCP frames are reassembled
// however the stream is cut.
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

using game::v1::ServerMessage;

class TransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(cluster_, Cluster::Start(ClusterOptions()));
  }
  absl::StatusOr<std::unique_ptr<GameTestClient>> BareUdp() {
    GameTestClient::Options options;
    options.udp_handshake = false;
    return GameTestClient::Connect(Transport::kUdp, cluster_->game_port(),
                                   options);
  }
  std::unique_ptr<Cluster> cluster_;
};

TEST_F(TransportTest, UdpChallengeIsBoundToTheAddressAndIdempotent) {
  ASSERT_OK_AND_ASSIGN(auto alice, BareUdp());
  ASSERT_OK_AND_ASSIGN(auto eve, BareUdp());
  ASSERT_OK(alice->SendRaw(wire::EncodeConnectRequest({.nonce = 11})));
  ASSERT_OK_AND_ASSIGN(std::string raw,
                       alice->ReceiveRawDatagram(absl::Seconds(5)));
  // Never larger than the 64-byte request.
  EXPECT_EQ(raw.size(), 36u);
  ASSERT_OK_AND_ASSIGN(wire::Datagram challenge, wire::ParseDatagram(raw));
  ASSERT_EQ(challenge.type, wire::PacketType::kChallenge);
  EXPECT_EQ(challenge.challenge.nonce, 11u);
  const std::string response = wire::EncodeChallengeResponse(
      {.nonce = challenge.challenge.nonce,
       .issued_at_ms = challenge.challenge.issued_at_ms,
       .cookie = challenge.challenge.cookie});

  // The cookie proves alice's address, not eve's.
  ASSERT_OK(eve->SendRaw(response));
  EXPECT_TRUE(absl::IsDeadlineExceeded(
      eve->ReceiveRawDatagram(absl::Milliseconds(300)).status()));
  // A tampered cookie proves nothing either.
  std::string tampered = response;
  tampered[30] ^= 0x01;
  ASSERT_OK(alice->SendRaw(tampered));
  EXPECT_TRUE(absl::IsDeadlineExceeded(
      alice->ReceiveRawDatagram(absl::Milliseconds(300)).status()));

  // Alice's own response is accepted, and accepted the same way again.
  ASSERT_OK(alice->SendRaw(response));
  ASSERT_OK_AND_ASSIGN(std::string accepted_raw,
                       alice->ReceiveRawDatagram(absl::Seconds(5)));
  ASSERT_OK_AND_ASSIGN(wire::Datagram accepted,
                       wire::ParseDatagram(accepted_raw));
  ASSERT_EQ(accepted.type, wire::PacketType::kAccepted);
  EXPECT_EQ(accepted.accepted.nonce, 11u);
  EXPECT_NE(accepted.accepted.connection_id, 0u);
  ASSERT_OK(alice->SendRaw(response));
  ASSERT_OK_AND_ASSIGN(std::string again_raw,
                       alice->ReceiveRawDatagram(absl::Seconds(5)));
  EXPECT_EQ(again_raw, accepted_raw);

  // The service knows exactly one peer (alice's), under that connection id.
  ops::v1::GetSessionRequest request;
  request.mutable_remote()->set_gateway_id(1);
  request.mutable_remote()->set_connection_id(accepted.accepted.connection_id);
  ASSERT_TRUE(WaitFor([&] { return cluster_->ops().Get(request).ok(); },
                      absl::Seconds(5)));
  ASSERT_OK_AND_ASSIGN(ops::v1::ListSessionsResponse all,
                       cluster_->ops().ListSessions({}));
  EXPECT_EQ(all.sessions_size(), 1);
}

TEST_F(TransportTest, TcpFramesAreReassembledHoweverTheStreamIsCut) {
  ASSERT_OK_AND_ASSIGN(
      auto client,
      GameTestClient::Connect(Transport::kTcp, cluster_->game_port()));
  ASSERT_OK(client->Login("framer"));
  auto ping_frame = [](int64_t stamp) {
    game::v1::ClientMessage ping;
    ping.mutable_ping()->set_client_time_us(stamp);
    std::string frame;
    wire::AppendTcpFrame(ping.SerializeAsString(), frame);
    return frame;
  };
  // Three frames in one write: three pongs, in order.
  ASSERT_OK(client->SendRaw(ping_frame(1) + ping_frame(2) + ping_frame(3)));
  for (int64_t stamp = 1; stamp <= 3; ++stamp) {
    ASSERT_OK_AND_ASSIGN(
        ServerMessage pong,
        client->ReceiveBody(ServerMessage::kPong, absl::Seconds(5)));
    EXPECT_EQ(pong.pong().client_time_us(), stamp);
  }
  // One frame a byte at a time, the header split too.
  const std::string frame = ping_frame(4);
  for (char byte : frame) ASSERT_OK(client->SendRaw(std::string(1, byte)));
  ASSERT_OK_AND_ASSIGN(
      ServerMessage pong,
      client->ReceiveBody(ServerMessage::kPong, absl::Seconds(5)));
  EXPECT_EQ(pong.pong().client_time_us(), 4);
  // A frame of exactly max_frame_size is allowed (an unparsable payload
  // of that size is rejected as malformed, not as too large).
  std::string biggest;
  wire::AppendTcpFrame(std::string(wire::kDefaultMaxFrameSize, '\xff'),
                       biggest);
  ASSERT_OK(client->SendRaw(biggest));
  ASSERT_OK_AND_ASSIGN(
      ServerMessage rejected,
      client->ReceiveBody(ServerMessage::kInputRejected, absl::Seconds(5)));
  EXPECT_EQ(rejected.input_rejected().reason(), "malformed");
  ASSERT_OK(client->Ping());
}

TEST_F(TransportTest, PongCarriesServerTimeAndEchoesGiveTheServerAnRtt) {
  ASSERT_OK_AND_ASSIGN(
      auto client,
      GameTestClient::Connect(Transport::kTcp, cluster_->game_port()));
  ASSERT_OK_AND_ASSIGN(game::v1::Welcome welcome, client->Login("timer"));
  ASSERT_OK_AND_ASSIGN(game::v1::Pong pong, client->Ping());
  EXPECT_GT(pong.server_time_us(), 0);
  const absl::Time pong_at = absl::Now();
  // The next ping echoes the pong and how long it was held.
  game::v1::ClientMessage ping;
  ping.mutable_ping()->set_client_time_us(77);
  ping.mutable_ping()->set_echo_server_time_us(pong.server_time_us());
  ping.mutable_ping()->set_echo_hold_us(
      absl::ToInt64Microseconds(absl::Now() - pong_at));
  ASSERT_OK(client->Send(ping));
  ASSERT_OK(client->ReceiveBody(ServerMessage::kPong, absl::Seconds(5)));
  // The gateway answered the Ping and reports its round trip to the service
  // within its liveness report interval (100 ms by default).
  ops::v1::Session session;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  do {
    ASSERT_OK_AND_ASSIGN(session,
                         cluster_->ops().GetSession(welcome.session_id()));
    if (session.has_rtt()) break;
    absl::SleepFor(absl::Milliseconds(5));
  } while (absl::Now() < deadline);
  ASSERT_TRUE(session.has_rtt()) << session.ShortDebugString();
  const absl::Duration rtt = absl::Seconds(session.rtt().seconds()) +
                             absl::Nanoseconds(session.rtt().nanos());
  EXPECT_GE(rtt, absl::ZeroDuration());
  EXPECT_LT(rtt, absl::Seconds(1));
}

}  // namespace
}  // namespace gss::testing
