// The whole gateway in process, on loopback, against a fake session service
// (a real gRPC server implementing GatewayLink.Attach): the UDP handshake and
// its anti-spoofing rules, Data and replay, TCP framing, per-peer limits,
// commands, the link's reconnect and resync, and shutdown.
#include "gateway/gateway.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "gateway/fake_link_server.h"
#include "gateway/test_clients.h"
#include "gmock/gmock.h"
#include "gss/game/v1/game.pb.h"
#include "gss/link/v1/close_reasons.h"
#include "gtest/gtest.h"

namespace gss::gateway {
namespace {

namespace lv1 = ::gss::link::v1;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using testing::FakeLinkServer;
using testing::kWait;
using testing::TcpClient;
using testing::UdpClient;
using State = FakeLinkServer::State;

std::optional<uint64_t> ConnectedIdFor(const State& state,
                                       const std::string& address,
                                       lv1::Transport transport) {
  for (const auto& event : state.events) {
    if (event.has_connected() &&
        event.connected().peer().address() == address &&
        event.connected().peer().transport() == transport) {
      return event.connection_id();
    }
  }
  return std::nullopt;
}

bool HasClosed(const State& state, uint64_t id) {
  for (const auto& event : state.events) {
    if (event.connection_id() == id && event.has_closed()) return true;
  }
  return false;
}

size_t CountMessages(const State& state, uint64_t id) {
  size_t n = 0;
  for (const auto& event : state.events) {
    n += event.connection_id() == id && event.has_message();
  }
  return n;
}

class GatewayTest : public ::testing::Test {
 protected:
  GatewayOptions BaseOptions() const {
    GatewayOptions options;
    options.game_address = "127.0.0.1:0";
    options.service_address = fake_->address();
    options.metrics_address = "";
    options.gateway_name = "test-gateway";
    options.gateway_id = 7;
    options.link_backoff_initial = absl::Milliseconds(10);
    options.link_backoff_max = absl::Milliseconds(100);
    options.shutdown_timeout = absl::Seconds(2);
    return options;
  }

  // Starts the gateway and waits for its first Hello.
  void Start(GatewayOptions options) {
    gateway_ = std::make_unique<Gateway>(std::move(options));
    const absl::Status started = gateway_->Start();
    ASSERT_TRUE(started.ok()) << started;
    ASSERT_NE(gateway_->game_port(), 0);
    ASSERT_TRUE(
        fake_->WaitUntil([](const State& s) { return !s.hellos.empty(); }));
  }
  void Start() { Start(BaseOptions()); }

  uint16_t port() const { return gateway_->game_port(); }

  // Handshake, then the PeerConnected the service receives for it.
  uint64_t ConnectUdp(UdpClient& client, uint64_t nonce) {
    auto id = client.Handshake(nonce);
    EXPECT_TRUE(id.ok()) << id.status();
    if (!id.ok()) return 0;
    EXPECT_TRUE(fake_->WaitUntil([&](const State& s) {
      return ConnectedIdFor(s, client.address(), lv1::TRANSPORT_UDP) == *id;
    }));
    return *id;
  }

  uint64_t ConnectTcp(TcpClient& client) {
    EXPECT_TRUE(client.connected());
    std::optional<uint64_t> id;
    EXPECT_TRUE(fake_->WaitUntil([&](const State& s) {
      id = ConnectedIdFor(s, client.address(), lv1::TRANSPORT_TCP);
      return id.has_value();
    }));
    return id.value_or(0);
  }

  std::unique_ptr<FakeLinkServer> fake_ = std::make_unique<FakeLinkServer>();
  std::unique_ptr<Gateway> gateway_;
};

// --- Link basics -------------------------------------------------------------

TEST_F(GatewayTest, FirstHelloIdentifiesTheGatewayAndListsNoPeers) {
  Start();
  const State state = fake_->Snapshot();
  ASSERT_EQ(state.hellos.size(), 1u);
  const lv1::Hello& hello = state.hellos[0];
  EXPECT_EQ(hello.gateway_id(), 7u);
  EXPECT_EQ(hello.gateway_name(), "test-gateway");
  EXPECT_EQ(hello.incarnation(), gateway_->incarnation());
  EXPECT_NE(hello.incarnation(), 0u);
  EXPECT_EQ(hello.peers_size(), 0);
  EXPECT_TRUE(state.events.empty());
}

TEST_F(GatewayTest, SamePortNumberServesTcpAndUdp) {
  Start();
  UdpClient udp(port());
  EXPECT_TRUE(udp.Handshake(1).ok());
  TcpClient tcp(port());
  EXPECT_TRUE(tcp.connected());
}

// --- UDP handshake -----------------------------------------------------------

TEST_F(GatewayTest, UnprovenAddressesGetNoPeerNoEventsAndNoAmplification) {
  Start();
  UdpClient spoofer(port());
  // Many ConnectRequests whose challenges the "spoofer" never answers.
  for (uint64_t nonce = 1; nonce <= 50; ++nonce) {
    const std::string request =
        wire::EncodeConnectRequest(wire::ConnectRequest{.nonce = nonce});
    spoofer.Send(request);
    auto reply = spoofer.Receive();
    ASSERT_TRUE(reply.has_value());
    EXPECT_LE(reply->size(), request.size());
    auto parsed = wire::ParseDatagram(*reply);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->type, wire::PacketType::kChallenge);
    EXPECT_EQ(parsed->challenge.nonce, nonce);
  }
  // Forged responses, a cookie minted for another address, Data and
  // Disconnect from a non-peer: all silently dropped.
  wire::ChallengeResponse forged{.nonce = 50};
  spoofer.Send(wire::EncodeConnectRequest(wire::ConnectRequest{.nonce = 50}));
  auto own = spoofer.ReceiveParsed();
  ASSERT_TRUE(own.has_value());
  forged.issued_at_ms = own->challenge.issued_at_ms;
  forged.cookie = own->challenge.cookie;
  forged.cookie[0] ^= 1;
  spoofer.Send(wire::EncodeChallengeResponse(forged));
  UdpClient other(port());
  other.Send(wire::EncodeConnectRequest(wire::ConnectRequest{.nonce = 99}));
  auto challenge = other.ReceiveParsed();
  ASSERT_TRUE(challenge.has_value());
  spoofer.Send(wire::EncodeChallengeResponse(
      wire::ChallengeResponse{.nonce = 99,
                              .issued_at_ms = challenge->challenge.issued_at_ms,
                              .cookie = challenge->challenge.cookie}));
  spoofer.Send(wire::EncodeData(1, 1, "hello"));
  spoofer.Send(wire::EncodeDisconnect(wire::Disconnect{.connection_id = 1}));
  spoofer.Send("garbage");

  // Barrier: the gateway handles datagrams in order, so once a fresh
  // request's challenge is back, every earlier datagram has been handled,
  // and the challenge is the first thing received.
  spoofer.Send(wire::EncodeConnectRequest(wire::ConnectRequest{.nonce = 1234}));
  auto first = spoofer.ReceiveParsed();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->type, wire::PacketType::kChallenge);
  EXPECT_EQ(first->challenge.nonce, 1234u);

  EXPECT_EQ(gateway_->peers().size(), 0u);
  EXPECT_GE(gateway_->metrics().drops(DropReason::kBadCookie), 2);
  EXPECT_GE(gateway_->metrics().drops(DropReason::kUnknownPeer), 2);
  EXPECT_GE(gateway_->metrics().drops(DropReason::kMalformed), 1);

  // A real peer afterwards: its PeerConnected is the first event the
  // service ever saw.
  UdpClient real(port());
  const uint64_t id = ConnectUdp(real, 5);
  const State state = fake_->Snapshot();
  ASSERT_EQ(state.events.size(), 1u);
  EXPECT_EQ(state.events[0].connection_id(), id);
}

TEST_F(GatewayTest, HandshakeCreatesPeerWithItsAddress) {
  Start();
  UdpClient client(port());
  auto id = client.Handshake(77);
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(
      fake_->WaitUntil([](const State& s) { return !s.events.empty(); }));
  const lv1::PeerEvent event = fake_->Snapshot().events[0];
  ASSERT_TRUE(event.has_connected());
  EXPECT_EQ(event.connection_id(), *id);
  EXPECT_EQ(event.connected().peer().connection_id(), *id);
  EXPECT_EQ(event.connected().peer().address(), client.address());
  EXPECT_EQ(event.connected().peer().transport(), lv1::TRANSPORT_UDP);
  EXPECT_EQ(gateway_->peers().count(Transport::kUdp), 1u);

  // A retransmitted response is answered with the same Accepted and creates
  // nothing new.
  const wire::Challenge& challenge = client.last_challenge();
  client.Send(wire::EncodeChallengeResponse(
      wire::ChallengeResponse{.nonce = 77,
                              .issued_at_ms = challenge.issued_at_ms,
                              .cookie = challenge.cookie}));
  auto again = client.ReceiveParsed();
  ASSERT_TRUE(again.has_value());
  ASSERT_EQ(again->type, wire::PacketType::kAccepted);
  EXPECT_EQ(again->accepted.connection_id, *id);
  EXPECT_EQ(gateway_->peers().size(), 1u);
}

TEST_F(GatewayTest, ConnectionIdsAreUniqueAndShareTheIncarnationPrefix) {
  Start();
  UdpClient a(port());
  UdpClient b(port());
  TcpClient c(port());
  const uint64_t ida = ConnectUdp(a, 1);
  const uint64_t idb = ConnectUdp(b, 2);
  const uint64_t idc = ConnectTcp(c);
  EXPECT_NE(ida, idb);
  EXPECT_NE(idb, idc);
  EXPECT_EQ(ida >> 32, idb >> 32);
  EXPECT_EQ(idb >> 32, idc >> 32);
}

TEST_F(GatewayTest, ExpiredCookieIsRefused) {
  GatewayOptions options = BaseOptions();
  options.cookie_lifetime = absl::Milliseconds(1);
  Start(options);
  UdpClient client(port());
  client.Send(wire::EncodeConnectRequest(wire::ConnectRequest{.nonce = 3}));
  auto challenge = client.ReceiveParsed();
  ASSERT_TRUE(challenge.has_value());
  // Wait (on a condition, with a deadline) until the cookie is stale.
  const absl::Time stale = absl::Now() + absl::Milliseconds(5);
  while (absl::Now() < stale) {
  }
  client.Send(wire::EncodeChallengeResponse(
      wire::ChallengeResponse{.nonce = 3,
                              .issued_at_ms = challenge->challenge.issued_at_ms,
                              .cookie = challenge->challenge.cookie}));
  client.Send(wire::EncodeConnectRequest(wire::ConnectRequest{.nonce = 4}));
  auto next = client.ReceiveParsed();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->type, wire::PacketType::kChallenge);  // No Accepted first.
  EXPECT_EQ(gateway_->metrics().drops(DropReason::kExpiredCookie), 1);
  EXPECT_EQ(gateway_->peers().size(), 0u);
}

// --- UDP data ----------------------------------------------------------------

TEST_F(GatewayTest, UdpDataIsForwardedInOrderAndReplaysAreDropped) {
  Start();
  UdpClient client(port());
  const uint64_t id = ConnectUdp(client, 11);
  std::vector<std::string> sent;
  for (int i = 1; i <= 30; ++i) {
    sent.push_back(absl::StrCat("m", i));
    client.SendData(sent.back());
  }
  ASSERT_TRUE(fake_->WaitUntil(
      [&](const State& s) { return CountMessages(s, id) == 30; }));
  EXPECT_THAT(fake_->MessagesOf(id), ElementsAreArray(sent));

  // Replays (same or too old sequence), a wrong connection id, then one
  // fresh datagram: only the fresh one arrives.
  client.SendDataWithSequence(5, "replay-5");
  client.SendDataWithSequence(30, "replay-30");
  client.Send(wire::EncodeData(id ^ 1, 31, "wrong-id"));
  client.SendDataWithSequence(100, "m100");
  client.SendDataWithSequence(100 - 64, "too-old");
  client.SendDataWithSequence(99, "m99");
  ASSERT_TRUE(fake_->WaitUntil(
      [&](const State& s) { return CountMessages(s, id) == 32; }));
  std::vector<std::string> messages = fake_->MessagesOf(id);
  EXPECT_EQ(messages[30], "m100");
  EXPECT_EQ(messages[31], "m99");
  EXPECT_EQ(gateway_->metrics().drops(DropReason::kReplayed), 3);
  EXPECT_EQ(gateway_->metrics().drops(DropReason::kWrongConnectionId), 1);
}

TEST_F(GatewayTest, MalformedDatagramsFromAPeerDoNotHurtIt) {
  Start();
  UdpClient client(port());
  const uint64_t id = ConnectUdp(client, 12);
  const std::string data = wire::EncodeData(id, 1, "x");
  for (size_t size = 0; size < 20; ++size) client.Send(data.substr(0, size));
  client.Send(std::string(2000, 'G'));
  std::string bad_version = data;
  bad_version[2] = 9;
  client.Send(bad_version);
  client.Send(wire::EncodeAccepted(wire::Accepted{}));  // Wrong direction.
  client.SendData("after-garbage");
  ASSERT_TRUE(fake_->WaitUntil(
      [&](const State& s) { return CountMessages(s, id) == 1; }));
  EXPECT_THAT(fake_->MessagesOf(id), ElementsAre("after-garbage"));
  EXPECT_GE(gateway_->metrics().drops(DropReason::kMalformed), 21);
  EXPECT_EQ(gateway_->metrics().drops(DropReason::kUnexpectedType), 1);
  EXPECT_EQ(gateway_->peers().size(), 1u);
}

TEST_F(GatewayTest, UdpGoodbyeIsAnOrderlyClose) {
  Start();
  UdpClient client(port());
  const uint64_t id = ConnectUdp(client, 13);
  client.Send(wire::EncodeDisconnect(wire::Disconnect{
      .connection_id = id, .code = wire::DisconnectCode::kGoodbye}));
  ASSERT_TRUE(
      fake_->WaitUntil([&](const State& s) { return HasClosed(s, id); }));
  const auto closed = fake_->ClosedEventOf(id);
  EXPECT_TRUE(closed->closed().orderly());
  EXPECT_EQ(gateway_->peers().size(), 0u);
  // Data after the close is from an unknown address now.
  client.SendData("late");
  client.Send(wire::EncodeConnectRequest(wire::ConnectRequest{.nonce = 1}));
  ASSERT_TRUE(client.ReceiveParsed().has_value());
  EXPECT_EQ(gateway_->metrics().drops(DropReason::kUnknownPeer), 1);
}

TEST_F(GatewayTest, IdleUdpPeerIsDropped) {
  GatewayOptions options = BaseOptions();
  options.udp_idle_timeout = absl::Milliseconds(100);
  Start(options);
  UdpClient client(port());
  const uint64_t id = ConnectUdp(client, 14);
  auto disconnect = client.ReceiveParsed();
  ASSERT_TRUE(disconnect.has_value());
  ASSERT_EQ(disconnect->type, wire::PacketType::kDisconnect);
  EXPECT_EQ(disconnect->disconnect.code, wire::DisconnectCode::kTimedOut);
  EXPECT_EQ(disconnect->disconnect.connection_id, id);
  ASSERT_TRUE(
      fake_->WaitUntil([&](const State& s) { return HasClosed(s, id); }));
  const auto closed = fake_->ClosedEventOf(id);
  EXPECT_FALSE(closed->closed().orderly());
  EXPECT_EQ(closed->closed().reason(), "idle_timeout");
  EXPECT_EQ(gateway_->metrics().peer_drops(PeerDropReason::kIdleTimeout), 1);
}

TEST_F(GatewayTest, UdpFloodBeyondTheRateLimitDropsThePeer) {
  GatewayOptions options = BaseOptions();
  options.peer_rate = 10;
  options.peer_burst = 20;
  Start(options);
  UdpClient flooder(port());
  UdpClient bystander(port());
  const uint64_t id = ConnectUdp(flooder, 15);
  const uint64_t other = ConnectUdp(bystander, 16);
  for (int i = 0; i < 200; ++i) flooder.SendData("flood");
  std::optional<wire::Datagram> reply;
  do {
    reply = flooder.ReceiveParsed();
  } while (reply.has_value() && reply->type != wire::PacketType::kDisconnect);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->disconnect.code, wire::DisconnectCode::kRateLimited);
  ASSERT_TRUE(
      fake_->WaitUntil([&](const State& s) { return HasClosed(s, id); }));
  EXPECT_EQ(fake_->ClosedEventOf(id)->closed().reason(), "rate_limited");
  EXPECT_LE(fake_->MessagesOf(id).size(), 25u);
  EXPECT_EQ(gateway_->metrics().peer_drops(PeerDropReason::kRateLimited), 1);
  // The other peer is untouched.
  bystander.SendData("still-here");
  ASSERT_TRUE(fake_->WaitUntil(
      [&](const State& s) { return CountMessages(s, other) == 1; }));
  EXPECT_FALSE(HasClosed(fake_->Snapshot(), other));
}

TEST_F(GatewayTest, UdpFrameOverTheMaximumDropsThePeer) {
  GatewayOptions options = BaseOptions();
  options.max_frame_size = 100;
  Start(options);
  UdpClient client(port());
  const uint64_t id = ConnectUdp(client, 17);
  client.SendData(std::string(100, 'a'));
  client.SendData(std::string(101, 'b'));
  auto reply = client.ReceiveParsed();
  ASSERT_TRUE(reply.has_value());
  ASSERT_EQ(reply->type, wire::PacketType::kDisconnect);
  EXPECT_EQ(reply->disconnect.code, wire::DisconnectCode::kFrameTooLarge);
  ASSERT_TRUE(
      fake_->WaitUntil([&](const State& s) { return HasClosed(s, id); }));
  EXPECT_EQ(fake_->ClosedEventOf(id)->closed().reason(), "frame_too_large");
  EXPECT_EQ(fake_->MessagesOf(id).size(), 1u);
}

// configuration.md: over UDP the datagram limit comes before
// --max_frame_size. A Data datagram over 1200 bytes is malformed traffic
// (dropped, counted, no reply, the peer untouched), not frame_too_large.
TEST_F(GatewayTest, UdpDatagramOverTheDatagramLimitIsMalformedNotTooLarge) {
  GatewayOptions options = BaseOptions();
  ASSERT_GT(options.max_frame_size, wire::kMaxDatagramSize);
  Start(options);
  UdpClient client(port());
  const uint64_t id = ConnectUdp(client, 18);
  const size_t largest = wire::kMaxDatagramSize - wire::DataSize(0);
  client.SendData(std::string(largest + 1, 'o'));
  client.SendData(std::string(largest, 'f'));
  ASSERT_TRUE(fake_->WaitUntil(
      [&](const State& s) { return CountMessages(s, id) == 1; }));
  EXPECT_EQ(fake_->MessagesOf(id).front().size(), largest);
  EXPECT_EQ(gateway_->metrics().drops(DropReason::kMalformed), 1);
  EXPECT_EQ(gateway_->metrics().drops(DropReason::kFrameTooLarge), 0);
  EXPECT_FALSE(client.Receive(absl::ZeroDuration()).has_value());
  EXPECT_FALSE(HasClosed(fake_->Snapshot(), id));
}

TEST_F(GatewayTest, FullGatewayRefusesNewPeers) {
  GatewayOptions options = BaseOptions();
  options.max_peers = 1;
  Start(options);
  UdpClient first(port());
  ConnectUdp(first, 1);
  UdpClient second(port());
  second.Send(wire::EncodeConnectRequest(wire::ConnectRequest{.nonce = 2}));
  auto challenge = second.ReceiveParsed();
  ASSERT_TRUE(challenge.has_value());
  const std::string response = wire::EncodeChallengeResponse(
      wire::ChallengeResponse{.nonce = 2,
                              .issued_at_ms = challenge->challenge.issued_at_ms,
                              .cookie = challenge->challenge.cookie});
  second.Send(response);
  std::string raw;
  auto refusal = second.ReceiveParsed(kWait, &raw);
  ASSERT_TRUE(refusal.has_value());
  ASSERT_EQ(refusal->type, wire::PacketType::kDisconnect);
  EXPECT_EQ(refusal->disconnect.code, wire::DisconnectCode::kServerFull);
  EXPECT_LE(raw.size(), response.size());
  TcpClient tcp(port());
  EXPECT_TRUE(tcp.WaitClosed());
  EXPECT_EQ(gateway_->peers().size(), 1u);
  EXPECT_EQ(gateway_->metrics().drops(DropReason::kServerFull), 2);
}

// --- TCP ---------------------------------------------------------------------

TEST_F(GatewayTest, TcpFramesAreForwardedUntouchedAndInOrder) {
  Start();
  TcpClient client(port());
  const uint64_t id = ConnectTcp(client);
  EXPECT_EQ(gateway_->peers().count(Transport::kTcp), 1u);
  client.SendFrame("one");
  client.SendFrame("");
  const std::string binary("\0\x01\xff\x80zz", 6);
  client.SendFrame(binary);
  // A frame split into single bytes arrives whole.
  std::string split;
  wire::AppendTcpFrame("split-frame", split);
  for (char c : split) client.SendRaw(std::string(1, c));
  ASSERT_TRUE(fake_->WaitUntil(
      [&](const State& s) { return CountMessages(s, id) == 4; }));
  EXPECT_THAT(fake_->MessagesOf(id),
              ElementsAre("one", "", binary, "split-frame"));

  client.Close();
  ASSERT_TRUE(
      fake_->WaitUntil([&](const State& s) { return HasClosed(s, id); }));
  EXPECT_FALSE(fake_->ClosedEventOf(id)->closed().orderly());
  EXPECT_EQ(gateway_->peers().size(), 0u);
}

TEST_F(GatewayTest, OversizedTcpFrameDropsOnlyThatPeer) {
  GatewayOptions options = BaseOptions();
  options.max_frame_size = 1024;
  Start(options);
  TcpClient bad(port());
  TcpClient good(port());
  const uint64_t bad_id = ConnectTcp(bad);
  const uint64_t good_id = ConnectTcp(good);
  bad.SendFrame("fine");
  bad.SendRaw(std::string("\x00\x00\x04\x01", 4));  // 1025 bytes announced.
  EXPECT_TRUE(bad.WaitClosed());
  ASSERT_TRUE(
      fake_->WaitUntil([&](const State& s) { return HasClosed(s, bad_id); }));
  EXPECT_EQ(fake_->ClosedEventOf(bad_id)->closed().reason(), "frame_too_large");
  EXPECT_THAT(fake_->MessagesOf(bad_id), ElementsAre("fine"));
  EXPECT_EQ(gateway_->metrics().peer_drops(PeerDropReason::kFrameTooLarge), 1);

  good.SendFrame(std::string(1024, 'g'));
  ASSERT_TRUE(fake_->WaitUntil(
      [&](const State& s) { return CountMessages(s, good_id) == 1; }));
  EXPECT_FALSE(HasClosed(fake_->Snapshot(), good_id));
}

TEST_F(GatewayTest, TcpFloodBeyondTheRateLimitDropsThePeer) {
  GatewayOptions options = BaseOptions();
  options.peer_rate = 10;
  options.peer_burst = 20;
  Start(options);
  TcpClient client(port());
  const uint64_t id = ConnectTcp(client);
  std::string flood;
  for (int i = 0; i < 200; ++i) wire::AppendTcpFrame("flood", flood);
  client.SendRaw(flood);
  EXPECT_TRUE(client.WaitClosed());
  ASSERT_TRUE(
      fake_->WaitUntil([&](const State& s) { return HasClosed(s, id); }));
  EXPECT_EQ(fake_->ClosedEventOf(id)->closed().reason(), "rate_limited");
  EXPECT_LE(fake_->MessagesOf(id).size(), 25u);
}

TEST_F(GatewayTest, TcpPeerThatDoesNotReadIsDropped) {
  GatewayOptions options = BaseOptions();
  options.tcp_max_pending_bytes = 64 * 1024;
  Start(options);
  TcpClient lazy(port());  // Never reads.
  const uint64_t id = ConnectTcp(lazy);
  // Far more than the kernel's socket buffers hold, so output piles up in
  // the gateway until the bound trips.
  const std::string chunk(16 * 1024, 'd');
  for (int batch = 0; batch < 40 && !HasClosed(fake_->Snapshot(), id);
       ++batch) {
    lv1::ServiceMessage message;
    for (int i = 0; i < 50; ++i) {
      lv1::PeerCommand* command = message.mutable_commands()->add_commands();
      command->set_connection_id(id);
      command->set_deliver(chunk);
    }
    ASSERT_TRUE(fake_->Send(message));
  }
  ASSERT_TRUE(
      fake_->WaitUntil([&](const State& s) { return HasClosed(s, id); }));
  EXPECT_EQ(fake_->ClosedEventOf(id)->closed().reason(), "slow_consumer");
  EXPECT_EQ(gateway_->metrics().peer_drops(PeerDropReason::kSlowConsumer), 1);
}

TEST_F(GatewayTest, TakenGamePortFailsToStart) {
  // Hold a UDP port; a gateway asked for exactly that port cannot start.
  UdpClient holder(1);
  GatewayOptions options = BaseOptions();
  options.game_address = absl::StrCat("127.0.0.1:", holder.port());
  Gateway gateway(options);
  const absl::Status started = gateway.Start();
  EXPECT_EQ(started.code(), absl::StatusCode::kUnavailable) << started;
}

// --- Commands ----------------------------------------------------------------

TEST_F(GatewayTest, DeliverReachesTheRightPeer) {
  Start();
  UdpClient udp1(port());
  UdpClient udp2(port());
  TcpClient tcp1(port());
  TcpClient tcp2(port());
  const uint64_t u1 = ConnectUdp(udp1, 1);
  const uint64_t u2 = ConnectUdp(udp2, 2);
  const uint64_t t1 = ConnectTcp(tcp1);
  const uint64_t t2 = ConnectTcp(tcp2);

  ASSERT_TRUE(fake_->Deliver(u1, "to-u1-a"));
  ASSERT_TRUE(fake_->Deliver(t1, "to-t1"));
  ASSERT_TRUE(fake_->Deliver(u1, "to-u1-b"));
  ASSERT_TRUE(fake_->Deliver(u2, "to-u2"));
  ASSERT_TRUE(fake_->Deliver(t2, "to-t2"));

  auto a = udp1.ReceiveParsed();
  ASSERT_TRUE(a.has_value());
  ASSERT_EQ(a->type, wire::PacketType::kData);
  EXPECT_EQ(a->data.connection_id, u1);
  EXPECT_EQ(a->data.sequence, 1u);
  EXPECT_EQ(a->data.payload, "to-u1-a");
  auto b = udp1.ReceiveParsed();
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->data.sequence, 2u);
  EXPECT_EQ(b->data.payload, "to-u1-b");
  auto c = udp2.ReceiveParsed();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->data.connection_id, u2);
  EXPECT_EQ(c->data.sequence, 1u);  // Each peer has its own sequence.
  EXPECT_EQ(c->data.payload, "to-u2");
  EXPECT_EQ(tcp1.ReadFrame(), "to-t1");
  EXPECT_EQ(tcp2.ReadFrame(), "to-t2");

  // Unknown ids are counted and ignored; the link stays up.
  ASSERT_TRUE(fake_->Deliver(12345, "nobody"));
  ASSERT_TRUE(fake_->Deliver(u2, "after-unknown"));
  auto d = udp2.ReceiveParsed();
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->data.payload, "after-unknown");
  EXPECT_EQ(gateway_->metrics().drops(DropReason::kUnknownConnectionId), 1);
}

// --- Heartbeats at the edge
// ----------------------------------------------------

std::string PingBytes(int64_t client_time_us, int64_t echo_server_time_us = 0) {
  game::v1::ClientMessage message;
  message.mutable_ping()->set_client_time_us(client_time_us);
  message.mutable_ping()->set_echo_server_time_us(echo_server_time_us);
  return message.SerializeAsString();
}

std::optional<game::v1::Pong> PongIn(std::optional<std::string> bytes) {
  game::v1::ServerMessage message;
  if (!bytes || !message.ParseFromString(*bytes) || !message.has_pong()) {
    return std::nullopt;
  }
  return message.pong();
}

std::optional<game::v1::Pong> ReceivePong(UdpClient& client) {
  std::optional<wire::Datagram> datagram = client.ReceiveParsed();
  if (!datagram || datagram->type != wire::PacketType::kData) {
    return std::nullopt;
  }
  return PongIn(std::string(datagram->data.payload));
}

// The reported round trip of `id`, from the last report that lists it, or
// nullopt when none does.
std::optional<int64_t> ReportedRtt(const State& state, uint64_t id) {
  std::optional<int64_t> rtt;
  for (const lv1::LivenessReport& report : state.reports) {
    for (int i = 0; i < report.connection_ids_size(); ++i) {
      if (report.connection_ids(i) == id) rtt = report.rtt_us(i);
    }
  }
  return rtt;
}

TEST_F(GatewayTest, PingsAreAnsweredAtTheEdgeAndReportedInBulk) {
  GatewayOptions options = BaseOptions();
  options.liveness_report_interval = absl::Milliseconds(20);
  Start(options);
  ASSERT_TRUE(gateway_->link().WaitUntilAcknowledged(kWait));
  UdpClient udp(port());
  TcpClient tcp(port());
  const uint64_t u = ConnectUdp(udp, 1);
  const uint64_t t = ConnectTcp(tcp);

  const int64_t before_us = absl::ToUnixMicros(absl::Now());
  udp.SendData(PingBytes(-1));
  std::optional<game::v1::Pong> pong = ReceivePong(udp);
  ASSERT_TRUE(pong.has_value());
  EXPECT_EQ(pong->client_time_us(), -1);
  EXPECT_GE(pong->server_time_us(), before_us);
  EXPECT_LE(pong->server_time_us(), absl::ToUnixMicros(absl::Now()));
  tcp.SendFrame(PingBytes(-2));
  std::optional<game::v1::Pong> tcp_pong = PongIn(tcp.ReadFrame());
  ASSERT_TRUE(tcp_pong.has_value());
  EXPECT_EQ(tcp_pong->client_time_us(), -2);

  // Echoing the Pong gives a round trip, which the report carries.
  udp.SendData(PingBytes(-3, pong->server_time_us()));
  ASSERT_TRUE(ReceivePong(udp).has_value());
  ASSERT_TRUE(fake_->WaitUntil([&](const State& s) {
    return ReportedRtt(s, u).value_or(-1) >= 0 && ReportedRtt(s, t) == -1;
  }));
  // Other messages, one that only starts like a Ping included, still go to
  // the service; the Pings never did.
  game::v1::ClientMessage move;
  move.mutable_move()->set_tick(1);
  const std::string ping_then_move = PingBytes(-4) + move.SerializeAsString();
  udp.SendData(ping_then_move);
  tcp.SendFrame(ping_then_move);
  ASSERT_TRUE(fake_->WaitUntil([&](const State& s) {
    return CountMessages(s, u) == 1 && CountMessages(s, t) == 1;
  }));
  EXPECT_THAT(fake_->MessagesOf(u), ElementsAre(ping_then_move));
  EXPECT_EQ(gateway_->metrics().pings_answered(), 3);
  // Each report lists a connection once, and ids increase from 1.
  const State state = fake_->Snapshot();
  for (size_t r = 0; r < state.reports.size(); ++r) {
    const lv1::LivenessReport& report = state.reports[r];
    EXPECT_EQ(report.report_id(), r + 1);
    EXPECT_EQ(report.connection_ids_size(), report.rtt_us_size());
    absl::flat_hash_set<uint64_t> ids(report.connection_ids().begin(),
                                      report.connection_ids().end());
    EXPECT_EQ(ids.size(), static_cast<size_t>(report.connection_ids_size()));
  }
}

// A service that stops acknowledging reports may be stalled: Pings go to it
// again, so that clients hear nothing from a stalled service, as they
// would without the gateway's help. Its acknowledgement restores the edge.
TEST_F(GatewayTest, UnacknowledgedReportsSendPingsToTheService) {
  GatewayOptions options = BaseOptions();
  options.liveness_report_interval = absl::Milliseconds(5);
  options.liveness_ack_timeout = absl::Milliseconds(50);
  Start(options);
  ASSERT_TRUE(gateway_->link().WaitUntilAcknowledged(kWait));
  UdpClient udp(port());
  const uint64_t u = ConnectUdp(udp, 1);
  fake_->AcknowledgeReports(false);

  udp.SendData(PingBytes(1));
  ASSERT_TRUE(ReceivePong(udp).has_value());
  ASSERT_TRUE(fake_->WaitUntil(
      [&](const State& s) { return ReportedRtt(s, u).has_value(); }));
  // Pings, one at a time, until `done` holds.
  int64_t stamp = 2;
  auto ping_until = [&](const std::function<bool(const State&)>& done) {
    const absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline) {
      udp.SendData(PingBytes(stamp++));
      if (fake_->WaitUntil(done, absl::Milliseconds(20))) return true;
    }
    return false;
  };
  // Once the report is overdue, a Ping reaches the service as a message.
  ASSERT_TRUE(
      ping_until([&](const State& s) { return CountMessages(s, u) > 0; }));
  const std::vector<std::string> forwarded = fake_->MessagesOf(u);
  ASSERT_FALSE(forwarded.empty());
  game::v1::ClientMessage message;
  ASSERT_TRUE(message.ParseFromString(forwarded.back()));
  EXPECT_TRUE(message.has_ping());

  // The service catches up and acknowledges: the edge answers again.
  lv1::ServiceMessage ack;
  ack.mutable_commands()->set_liveness_applied(
      fake_->Snapshot().reports.back().report_id());
  ASSERT_TRUE(fake_->Send(ack));
  fake_->AcknowledgeReports(true);
  const size_t reports = fake_->Snapshot().reports.size();
  ASSERT_TRUE(
      ping_until([&](const State& s) { return s.reports.size() > reports; }));
}

TEST_F(GatewayTest, WithAnswerPingsOffEveryPingGoesToTheService) {
  GatewayOptions options = BaseOptions();
  options.answer_pings = false;
  Start(options);
  ASSERT_TRUE(gateway_->link().WaitUntilAcknowledged(kWait));
  UdpClient udp(port());
  const uint64_t u = ConnectUdp(udp, 1);
  udp.SendData(PingBytes(1));
  ASSERT_TRUE(fake_->WaitUntil(
      [&](const State& s) { return CountMessages(s, u) == 1; }));
  EXPECT_EQ(gateway_->metrics().pings_answered(), 0);
  EXPECT_TRUE(fake_->Snapshot().reports.empty());
}

TEST_F(GatewayTest, OversizedUdpDeliveryIsDroppedAndCounted) {
  Start();
  UdpClient client(port());
  const uint64_t id = ConnectUdp(client, 1);
  ASSERT_TRUE(fake_->Deliver(id, std::string(wire::kMaxDatagramSize, 'x')));
  ASSERT_TRUE(fake_->Deliver(id, "small"));
  auto data = client.ReceiveParsed();
  ASSERT_TRUE(data.has_value());
  EXPECT_EQ(data->data.payload, "small");
  EXPECT_EQ(data->data.sequence, 1u);
  EXPECT_EQ(gateway_->metrics().drops(DropReason::kOutboundTooLarge), 1);
}

// After the client's Goodbye the service closes the peer with no game
// message: the UDP client gets the orderly code, not "closed by the
// service" (whose promise is a Disconnect game message first).
TEST_F(GatewayTest, AGoodbyeCloseIsAnsweredWithTheOrderlyCode) {
  Start();
  UdpClient udp(port());
  const uint64_t u = ConnectUdp(udp, 1);
  ASSERT_TRUE(fake_->Close(u, "", std::string(link::v1::kGoodbyeCloseReason)));
  auto disconnect = udp.ReceiveParsed();
  ASSERT_TRUE(disconnect.has_value());
  ASSERT_EQ(disconnect->type, wire::PacketType::kDisconnect);
  EXPECT_EQ(disconnect->disconnect.code, wire::DisconnectCode::kGoodbye);
  ASSERT_TRUE(gateway_->peers().WaitUntilEmpty(kWait));
}

TEST_F(GatewayTest, CloseSendsTheFinalMessageThenCloses) {
  Start();
  UdpClient udp(port());
  TcpClient tcp(port());
  const uint64_t u = ConnectUdp(udp, 1);
  const uint64_t t = ConnectTcp(tcp);

  ASSERT_TRUE(fake_->Close(u, "bye-udp"));
  auto last = udp.ReceiveParsed();
  ASSERT_TRUE(last.has_value());
  ASSERT_EQ(last->type, wire::PacketType::kData);
  EXPECT_EQ(last->data.payload, "bye-udp");
  auto disconnect = udp.ReceiveParsed();
  ASSERT_TRUE(disconnect.has_value());
  ASSERT_EQ(disconnect->type, wire::PacketType::kDisconnect);
  EXPECT_EQ(disconnect->disconnect.code,
            wire::DisconnectCode::kClosedByService);

  ASSERT_TRUE(fake_->Close(t, "bye-tcp"));
  EXPECT_EQ(tcp.ReadFrame(), "bye-tcp");
  EXPECT_TRUE(tcp.WaitClosed());

  ASSERT_TRUE(gateway_->peers().WaitUntilEmpty(kWait));
  // The service closed them: it is not told again. A later event (here a
  // new peer) shows the queue has no PeerClosed before it.
  UdpClient marker(port());
  const uint64_t m = ConnectUdp(marker, 2);
  const State state = fake_->Snapshot();
  EXPECT_FALSE(HasClosed(state, u));
  EXPECT_FALSE(HasClosed(state, t));
  EXPECT_EQ(state.events.back().connection_id(), m);
  // Commands for the closed peers are unknown now.
  ASSERT_TRUE(fake_->Deliver(u, "late"));
  ASSERT_TRUE(fake_->Deliver(m, "marker"));
  ASSERT_TRUE(marker.ReceiveParsed().has_value());
  EXPECT_EQ(gateway_->metrics().drops(DropReason::kUnknownConnectionId), 1);
}

// --- Link resilience ---------------------------------------------------------

TEST_F(GatewayTest, ReconnectsAndResyncsPeersAfterTheServiceRestarts) {
  Start();
  UdpClient udp(port());
  TcpClient tcp(port());
  const uint64_t u = ConnectUdp(udp, 1);
  const uint64_t t = ConnectTcp(tcp);

  const uint16_t link_port = fake_->port();
  fake_->Kill();
  // Events written to a breaking stream are lost (at most once); wait until
  // the gateway knows the link is down so the test's events are queued.
  ASSERT_TRUE(gateway_->link().WaitUntilUp(false, kWait));
  // Each peer is told at once and keeps its connection.
  auto is_unavailable_notice = [](absl::string_view bytes) {
    game::v1::ServerMessage notice;
    return notice.ParseFromArray(bytes.data(),
                                 static_cast<int>(bytes.size())) &&
           notice.disconnect().reason() == "service_unavailable";
  };
  std::optional<std::string> tcp_notice = tcp.ReadFrame();
  ASSERT_TRUE(tcp_notice.has_value());
  EXPECT_TRUE(is_unavailable_notice(*tcp_notice));
  std::optional<wire::Datagram> udp_notice = udp.ReceiveParsed();
  ASSERT_TRUE(udp_notice.has_value());
  ASSERT_EQ(udp_notice->type, wire::PacketType::kData);
  EXPECT_TRUE(is_unavailable_notice(udp_notice->data.payload));
  EXPECT_TRUE(tcp.connected());
  // While the service is down, one peer leaves and one sends a message.
  UdpClient gone(port());
  const auto gone_id = gone.Handshake(3);
  ASSERT_TRUE(gone_id.ok());
  gone.Send(
      wire::EncodeDisconnect(wire::Disconnect{.connection_id = *gone_id}));
  udp.SendData("while-down");

  fake_ = std::make_unique<FakeLinkServer>(link_port);
  ASSERT_EQ(fake_->port(), link_port);
  ASSERT_TRUE(
      fake_->WaitUntil([](const State& s) { return !s.hellos.empty(); }));
  const lv1::Hello hello = fake_->Snapshot().hellos[0];
  EXPECT_EQ(hello.incarnation(), gateway_->incarnation());
  ASSERT_EQ(hello.peers_size(), 2);
  std::map<uint64_t, lv1::Peer> peers;
  for (const auto& peer : hello.peers()) peers[peer.connection_id()] = peer;
  ASSERT_TRUE(peers.contains(u));
  ASSERT_TRUE(peers.contains(t));
  EXPECT_EQ(peers[u].address(), udp.address());
  EXPECT_EQ(peers[u].transport(), lv1::TRANSPORT_UDP);
  EXPECT_EQ(peers[t].address(), tcp.address());
  EXPECT_EQ(peers[t].transport(), lv1::TRANSPORT_TCP);
  EXPECT_GE(gateway_->metrics().link_reconnects(), 1);

  // The message sent while down follows the Hello; then traffic flows.
  ASSERT_TRUE(fake_->WaitUntil(
      [&](const State& s) { return CountMessages(s, u) == 1; }));
  EXPECT_THAT(fake_->MessagesOf(u), ElementsAre("while-down"));
  tcp.SendFrame("after");
  ASSERT_TRUE(fake_->WaitUntil(
      [&](const State& s) { return CountMessages(s, t) == 1; }));
  ASSERT_TRUE(fake_->Deliver(t, "welcome-back"));
  EXPECT_EQ(tcp.ReadFrame(), "welcome-back");
  // Connect/close events from the outage are folded into the Hello.
  for (const auto& event : fake_->Snapshot().events) {
    EXPECT_FALSE(event.has_connected());
    EXPECT_FALSE(event.has_closed());
  }
}

TEST_F(GatewayTest, PeersConnectWhileTheServiceIsDownAndQueueIsBounded) {
  const uint16_t link_port = fake_->port();
  fake_->Kill();
  GatewayOptions options = BaseOptions();
  options.link_queue_max_events = 5;
  gateway_ = std::make_unique<Gateway>(options);
  ASSERT_TRUE(gateway_->Start().ok());
  UdpClient client(gateway_->game_port());
  auto id = client.Handshake(9);
  ASSERT_TRUE(id.ok());
  for (int i = 1; i <= 8; ++i) client.SendData(absl::StrCat("q", i));
  // Barrier: a handshake from another client is handled after those.
  UdpClient barrier(gateway_->game_port());
  ASSERT_TRUE(barrier.Handshake(10).ok());
  EXPECT_EQ(gateway_->metrics().drops(DropReason::kLinkQueueFull), 3);

  fake_ = std::make_unique<FakeLinkServer>(link_port);
  ASSERT_EQ(fake_->port(), link_port);
  ASSERT_TRUE(fake_->WaitUntil(
      [&](const State& s) { return CountMessages(s, *id) == 5; }));
  const State state = fake_->Snapshot();
  ASSERT_EQ(state.hellos.size(), 1u);
  EXPECT_EQ(state.hellos[0].peers_size(), 2);
  EXPECT_THAT(fake_->MessagesOf(*id),
              ElementsAre("q1", "q2", "q3", "q4", "q5"));
}

// --- Shutdown and metrics ----------------------------------------------------

TEST_F(GatewayTest, StopTellsPeersAndTheService) {
  Start();
  UdpClient udp(port());
  TcpClient tcp(port());
  const uint64_t u = ConnectUdp(udp, 1);
  const uint64_t t = ConnectTcp(tcp);
  gateway_->Stop();
  auto disconnect = udp.ReceiveParsed();
  ASSERT_TRUE(disconnect.has_value());
  ASSERT_EQ(disconnect->type, wire::PacketType::kDisconnect);
  EXPECT_EQ(disconnect->disconnect.code,
            wire::DisconnectCode::kGatewayShutdown);
  EXPECT_TRUE(tcp.WaitClosed());
  // The link was flushed before it closed.
  ASSERT_TRUE(fake_->WaitUntil([&](const State& s) {
    return HasClosed(s, u) && HasClosed(s, t) && s.streams_ended == 1;
  })) << "closed u "
      << HasClosed(fake_->Snapshot(), u) << " closed t "
      << HasClosed(fake_->Snapshot(), t) << " streams ended "
      << fake_->Snapshot().streams_ended << " events "
      << fake_->Snapshot().events.size();
  EXPECT_EQ(fake_->ClosedEventOf(u)->closed().reason(), "gateway_shutdown");
  EXPECT_EQ(gateway_->peers().size(), 0u);
}

// A plain HTTP/1.0 GET; the body after the headers.
std::string HttpGet(uint16_t port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) !=
      0) {
    close(fd);
    return "";
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\n\r\n";
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response;
  char chunk[4096];
  pollfd entry{.fd = fd, .events = POLLIN, .revents = 0};
  while (poll(&entry, 1, 10000) > 0) {
    const ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) break;
    response.append(chunk, static_cast<size_t>(n));
  }
  close(fd);
  return response;
}

TEST_F(GatewayTest, ServesPrometheusMetrics) {
  GatewayOptions options = BaseOptions();
  options.metrics_address = "127.0.0.1:0";
  Start(options);
  ASSERT_NE(gateway_->metrics_port(), 0);
  UdpClient client(port());
  const uint64_t id = ConnectUdp(client, 1);
  client.SendData("x");
  ASSERT_TRUE(fake_->WaitUntil(
      [&](const State& s) { return CountMessages(s, id) == 1; }));
  const std::string body = HttpGet(gateway_->metrics_port(), "/metrics");
  EXPECT_THAT(body,
              ::testing::HasSubstr("gss_gateway_packets_total{direction=\"in\","
                                   "transport=\"udp\"} 3"));
  EXPECT_THAT(body,
              ::testing::HasSubstr("gss_gateway_peers{transport=\"udp\"} 1"));
  EXPECT_THAT(body, ::testing::HasSubstr("gss_gateway_drops_total{reason="));
  EXPECT_THAT(body,
              ::testing::HasSubstr("gss_gateway_link_batch_events_bucket"));
  EXPECT_THAT(body, ::testing::HasSubstr("gss_gateway_link_reconnects_total"));
  EXPECT_THAT(body, ::testing::HasSubstr("gss_gateway_bytes_total"));
}

TEST(GatewayOptionsTest, ValidationNamesTheBadFlag) {
  GatewayOptions options;
  EXPECT_TRUE(ValidateOptions(options).ok());
  options.io_threads = 0;
  EXPECT_THAT(std::string(ValidateOptions(options).message()),
              ::testing::HasSubstr("--io_threads"));
  options = GatewayOptions();
  options.game_address = "nowhere";
  EXPECT_THAT(std::string(ValidateOptions(options).message()),
              ::testing::HasSubstr("--game_address"));
  options = GatewayOptions();
  options.link_backoff_max = absl::Milliseconds(1);
  EXPECT_THAT(std::string(ValidateOptions(options).message()),
              ::testing::HasSubstr("--link_backoff_max"));
}

}  // namespace
}  // namespace gss::gateway
