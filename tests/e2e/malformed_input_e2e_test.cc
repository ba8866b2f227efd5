// End-to-end: malformed and oversized input from one peer (bad TCP lengths,
// garbage datagrams, unparsable messages, replays, spoofed connection ids)
// leaves the other peers' sessions untouched and both processes alive.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/cluster.h"
#include "tests/support/game_test_client.h"
#include "tests/support/ops_client.h"
#include "tests/support/test_macros.h"

namespace gss::testing {
namespace {

using game::v1::ServerMessage;
using game::v1::Welcome;

struct Bystander {
  std::unique_ptr<GameTestClient> client;
  std::string session_id;
  uint32_t transitions = 0;
};

// Bystanders on both transports, logged in before the abuse starts. The
// abusive peer ("mallory") uses transport().
class MalformedInputBase : public ::testing::Test {
 protected:
  virtual Transport transport() const = 0;

  virtual ClusterOptions Options() const { return ClusterOptions(); }

  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(cluster_, Cluster::Start(Options()));
    for (Transport transport : {Transport::kTcp, Transport::kUdp}) {
      Bystander bystander;
      ASSERT_OK_AND_ASSIGN(bystander.client,
                           GameTestClient::Connect(transport, port()));
      ASSERT_OK_AND_ASSIGN(Welcome welcome,
                           bystander.client->Login(absl::StrCat(
                               "bystander-", TransportName(transport))));
      bystander.session_id = welcome.session_id();
      bystanders_.push_back(std::move(bystander));
    }
    for (Bystander& bystander : bystanders_) {
      ASSERT_OK_AND_ASSIGN(ops::v1::Session session,
                           cluster_->ops().GetSession(bystander.session_id));
      bystander.transitions = session.transitions();
    }
  }

  int port() const { return cluster_->game_port(); }

  absl::StatusOr<std::unique_ptr<GameTestClient>> ConnectMallory(bool log_in) {
    auto mallory = GameTestClient::Connect(transport(), port());
    if (!mallory.ok() || !log_in) return mallory;
    absl::StatusOr<Welcome> welcome = (*mallory)->Login("mallory");
    if (!welcome.ok()) return welcome.status();
    return mallory;
  }

  // Both processes run; every bystander answers a ping, was told nothing,
  // and its session had no transition since SetUp.
  void ExpectBystandersUntouched() {
    EXPECT_TRUE(cluster_->service()->Running()) << "session_service died";
    EXPECT_TRUE(cluster_->gateway()->Running()) << "gateway died";
    for (Bystander& bystander : bystanders_) {
      SCOPED_TRACE(bystander.session_id);
      EXPECT_OK(bystander.client->Ping());
      EXPECT_FALSE(bystander.client->InboxHas(ServerMessage::kDisconnect));
      EXPECT_FALSE(bystander.client->InboxHas(ServerMessage::kInputRejected));
      auto session = cluster_->ops().GetSession(bystander.session_id);
      ASSERT_TRUE(session.ok()) << session.status();
      EXPECT_EQ(session->state(), ops::v1::SESSION_STATE_ACTIVE);
      EXPECT_EQ(session->transitions(), bystander.transitions);
    }
    EXPECT_OK(cluster_->ops().GetServerInfo());
  }

  std::unique_ptr<Cluster> cluster_;
  std::vector<Bystander> bystanders_;
};

class MalformedInputTest : public MalformedInputBase,
                           public ::testing::WithParamInterface<Transport> {
 protected:
  Transport transport() const override { return GetParam(); }
};

class MalformedTcpTest : public MalformedInputBase {
 protected:
  Transport transport() const override { return Transport::kTcp; }
};

class MalformedUdpTest : public MalformedInputBase {
 protected:
  Transport transport() const override { return Transport::kUdp; }
};

TEST_P(MalformedInputTest, UnparsableMessagesAreRejectedAndSessionKept) {
  ASSERT_OK_AND_ASSIGN(auto mallory, ConnectMallory(/*log_in=*/true));
  const std::string mallory_id = mallory->welcome().session_id();
  // Not protobuf, a truncated field, and a message with no body.
  const std::vector<std::string> payloads = {
      std::string("\xff\xff\xff\xff\xff", 5), std::string("\x0a\x50", 2),
      std::string()};
  for (const std::string& payload : payloads) {
    ASSERT_OK(mallory->SendPayload(payload));
    ASSERT_OK_AND_ASSIGN(
        ServerMessage reply,
        mallory->ReceiveBody(ServerMessage::kInputRejected, absl::Seconds(5)));
    EXPECT_EQ(reply.input_rejected().reason(), "malformed");
  }
  // Mallory's own session is untouched too.
  ASSERT_OK(mallory->Ping());
  ASSERT_OK_AND_ASSIGN(ops::v1::Session session,
                       cluster_->ops().GetSession(mallory_id));
  EXPECT_EQ(session.state(), ops::v1::SESSION_STATE_ACTIVE);
  ExpectBystandersUntouched();
}

TEST_P(MalformedInputTest, UnparsableMessageBeforeLoginKeepsConnection) {
  ASSERT_OK_AND_ASSIGN(auto mallory, ConnectMallory(/*log_in=*/false));
  ASSERT_OK(mallory->SendPayload(std::string("\xff\xfe\xfd", 3)));
  ASSERT_OK_AND_ASSIGN(
      ServerMessage reply,
      mallory->ReceiveBody(ServerMessage::kInputRejected, absl::Seconds(5)));
  EXPECT_EQ(reply.input_rejected().reason(), "malformed");
  EXPECT_OK(mallory->Login("mallory-late"));
  ExpectBystandersUntouched();
}

TEST_P(MalformedInputTest, OversizedInputEndsOnlyThatPeer) {
  ASSERT_OK_AND_ASSIGN(auto mallory, ConnectMallory(/*log_in=*/true));
  if (transport() == Transport::kTcp) {
    // A length far above max_frame_size (16 KiB): the stream cannot be
    // resynchronised, so the gateway must end the connection.
    std::string header("\x00\x10\x00\x01", 4);  // 1 MiB + 1.
    ASSERT_OK(mallory->SendRaw(header + std::string(64, 'x')));
    EXPECT_OK(mallory->WaitForTransportClose(absl::Seconds(5)));
  } else {
    // Datagrams over 1200 bytes are dropped without a reply, even with a
    // valid header and connection id.
    std::string big =
        wire::EncodeData(mallory->connection_id(),
                         mallory->next_send_sequence(), std::string(1400, 'x'));
    ASSERT_OK(mallory->SendRaw(big));
    EXPECT_TRUE(mallory->CollectFor(absl::Milliseconds(300)).empty());
    // The datagram was ignored: the peer still works.
    EXPECT_OK(mallory->Ping());
  }
  ExpectBystandersUntouched();
}

TEST_F(MalformedTcpTest, FrameJustOverTheLimitIsRefused) {
  ASSERT_OK_AND_ASSIGN(auto mallory, ConnectMallory(/*log_in=*/true));
  std::string frame;
  wire::AppendTcpFrame(std::string(wire::kDefaultMaxFrameSize + 1, 'x'), frame);
  ASSERT_OK(mallory->SendRaw(frame));
  EXPECT_OK(mallory->WaitForTransportClose(absl::Seconds(5)));
  ExpectBystandersUntouched();
}

TEST_F(MalformedUdpTest, GarbageDatagramsAreDroppedSilently) {
  // A stranger that never did the handshake.
  GameTestClient::Options bare;
  bare.udp_handshake = false;
  ASSERT_OK_AND_ASSIGN(auto stranger,
                       GameTestClient::Connect(Transport::kUdp, port(), bare));
  const uint64_t victim_connection = bystanders_[1].client->connection_id();
  std::vector<std::string> garbage = {
      "hello",
      std::string(100, '\xab'),
      std::string("XS\x01\x01", 4) + std::string(60, '\0'),   // bad magic
      std::string("GS\x09\x01", 4) + std::string(60, '\0'),   // bad version
      std::string("GS\x01\x09", 4) + std::string(60, '\0'),   // bad type
      std::string("GS\x01\x01", 4) + std::string(20, '\0'),   // short request
      std::string("GS\x01\x01", 4) + std::string(200, '\0'),  // long request
      std::string(1500, 'G'),                                 // oversized
      // Forged cookie.
      wire::EncodeChallengeResponse({.nonce = 1, .issued_at_ms = 1}),
      // Data and Disconnect naming another peer's connection id, from the
      // wrong address: must not reach that peer's session.
      wire::EncodeData(victim_connection, 1000, "\x1a\x00"),
      wire::EncodeDisconnect({.connection_id = victim_connection,
                              .code = wire::DisconnectCode::kGoodbye}),
  };
  for (const std::string& datagram : garbage) {
    ASSERT_OK(stranger->SendRaw(datagram));
  }
  // No reply of any kind: an unproven address gets nothing back.
  stranger->CollectFor(absl::Milliseconds(300));
  EXPECT_EQ(stranger->datagrams_received(), 0u);
  // The gateway still answers a well-formed ConnectRequest with a Challenge.
  ASSERT_OK(stranger->SendRaw(wire::EncodeConnectRequest({.nonce = 7})));
  EXPECT_TRUE(WaitFor(
      [&] {
        stranger->CollectFor(absl::Milliseconds(20));
        return stranger->datagrams_received() > 0;
      },
      absl::Seconds(5)));
  // A newcomer can still connect and log in.
  ASSERT_OK_AND_ASSIGN(auto mallory, ConnectMallory(/*log_in=*/true));
  ExpectBystandersUntouched();
}

TEST_F(MalformedUdpTest, ReplayedAndMisaddressedDataIsDropped) {
  ASSERT_OK_AND_ASSIGN(auto mallory, ConnectMallory(/*log_in=*/true));
  game::v1::ClientMessage ping;
  ping.mutable_ping()->set_client_time_us(4242);
  const std::string payload = ping.SerializeAsString();
  const uint64_t sequence = mallory->next_send_sequence();
  ASSERT_OK(mallory->SendDataWithSequence(sequence, payload));
  ASSERT_OK_AND_ASSIGN(
      ServerMessage pong,
      mallory->ReceiveBody(ServerMessage::kPong, absl::Seconds(5)));
  EXPECT_EQ(pong.pong().client_time_us(), 4242);
  // The same datagram again, an old one, and one with another connection
  // id from this (valid) address: no answer to any of them.
  ASSERT_OK(mallory->SendDataWithSequence(sequence, payload));
  ASSERT_OK(mallory->SendRaw(wire::EncodeData(mallory->connection_id() ^ 0x5555,
                                              sequence + 100, payload)));
  // A newer datagram is still answered, and only it.
  ASSERT_OK(mallory->Ping());
  mallory->CollectFor(absl::Milliseconds(300));
  for (const ServerMessage& m : mallory->inbox()) {
    EXPECT_FALSE(m.has_pong())
        << "replayed or misaddressed datagram answered: " << Describe(m);
  }
  ExpectBystandersUntouched();
}

TEST_F(MalformedTcpTest, StreamGarbageEndsOnlyThatConnection) {
  ASSERT_OK_AND_ASSIGN(auto mallory, ConnectMallory(/*log_in=*/false));
  // A stray HTTP request: "GET " read as a length is ~1.2 GB.
  ASSERT_OK(mallory->SendRaw("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_OK(mallory->WaitForTransportClose(absl::Seconds(5)));
  ExpectBystandersUntouched();
}

// A tight per-peer budget; the bystanders send far less than this.
class FloodTest : public MalformedInputTest {
 protected:
  ClusterOptions Options() const override {
    ClusterOptions options;
    options.gateway_flags = {"--peer_rate=20", "--peer_burst=40"};
    return options;
  }
};

TEST_P(FloodTest, FloodingPeerIsCutOffAlone) {
  ASSERT_OK_AND_ASSIGN(auto mallory, ConnectMallory(/*log_in=*/true));
  game::v1::ClientMessage ping;
  ping.mutable_ping()->set_client_time_us(1);
  for (int i = 0; i < 400 && !mallory->transport_closed(); ++i) {
    if (!mallory->Send(ping).ok()) break;  // TCP: the gateway hung up.
  }
  EXPECT_OK(mallory->WaitForTransportClose(absl::Seconds(5)));
  if (transport() == Transport::kUdp) {
    EXPECT_EQ(mallory->udp_disconnect_code(),
              wire::DisconnectCode::kRateLimited);
  }
  ExpectBystandersUntouched();
}

INSTANTIATE_TEST_SUITE_P(Transports, FloodTest,
                         ::testing::Values(Transport::kTcp, Transport::kUdp),
                         [](const auto& info) {
                           return TransportName(info.param);
                         });
INSTANTIATE_TEST_SUITE_P(Transports, MalformedInputTest,
                         ::testing::Values(Transport::kTcp, Transport::kUdp),
                         [](const auto& info) {
                           return TransportName(info.param);
                         });

}  // namespace
}  // namespace gss::testing
