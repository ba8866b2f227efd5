#include "common/udp_client_handshake.h"

#include <string>

#include "gtest/gtest.h"

namespace gss {
namespace {

using State = UdpClientHandshake::State;

wire::Datagram Parsed(const std::string& bytes) {
  absl::StatusOr<wire::Datagram> datagram = wire::ParseDatagram(bytes);
  EXPECT_TRUE(datagram.ok()) << datagram.status();
  return *datagram;
}

wire::Challenge ChallengeFor(uint64_t nonce) {
  wire::Challenge challenge{.nonce = nonce, .issued_at_ms = 1234};
  challenge.cookie.fill(0xab);
  return challenge;
}

const absl::Time kStart = absl::FromUnixSeconds(1000);

TEST(UdpClientHandshakeTest, RequestChallengeResponseAccepted) {
  UdpClientHandshake handshake(42);
  std::optional<std::string> request = handshake.DatagramToSend(kStart);
  ASSERT_TRUE(request.has_value());
  wire::Datagram sent = Parsed(*request);
  EXPECT_EQ(sent.type, wire::PacketType::kConnectRequest);
  EXPECT_EQ(sent.connect_request.nonce, 42u);
  EXPECT_EQ(request->size(), wire::kHandshakeRequestSize);

  EXPECT_TRUE(
      handshake.Receive(Parsed(wire::EncodeChallenge(ChallengeFor(42)))));
  EXPECT_EQ(handshake.state(), State::kResponding);
  // Answered at once, echoing the challenge.
  std::optional<std::string> response = handshake.DatagramToSend(kStart);
  ASSERT_TRUE(response.has_value());
  sent = Parsed(*response);
  ASSERT_EQ(sent.type, wire::PacketType::kChallengeResponse);
  EXPECT_EQ(sent.challenge_response.nonce, 42u);
  EXPECT_EQ(sent.challenge_response.issued_at_ms, 1234u);
  EXPECT_EQ(sent.challenge_response.cookie, ChallengeFor(42).cookie);

  EXPECT_TRUE(handshake.Receive(
      Parsed(wire::EncodeAccepted({.nonce = 42, .connection_id = 9}))));
  EXPECT_EQ(handshake.state(), State::kAccepted);
  EXPECT_TRUE(handshake.done());
  EXPECT_EQ(handshake.connection_id(), 9u);
  EXPECT_EQ(handshake.next_send_at(), absl::InfiniteFuture());
  EXPECT_FALSE(handshake.DatagramToSend(kStart + absl::Hours(1)).has_value());
}

TEST(UdpClientHandshakeTest, EachStepIsSentAgainEveryRetransmitInterval) {
  UdpClientHandshake handshake(7, absl::Milliseconds(500));
  ASSERT_TRUE(handshake.DatagramToSend(kStart).has_value());
  EXPECT_FALSE(
      handshake.DatagramToSend(kStart + absl::Milliseconds(499)).has_value());
  EXPECT_EQ(handshake.next_send_at(), kStart + absl::Milliseconds(500));
  std::optional<std::string> again =
      handshake.DatagramToSend(kStart + absl::Milliseconds(500));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(Parsed(*again).connect_request.nonce, 7u);  // Same nonce.
  handshake.Receive(Parsed(wire::EncodeChallenge(ChallengeFor(7))));
  const absl::Time t = kStart + absl::Seconds(2);
  ASSERT_TRUE(handshake.DatagramToSend(t).has_value());
  EXPECT_FALSE(handshake.DatagramToSend(t + absl::Milliseconds(1)).has_value());
  std::optional<std::string> response =
      handshake.DatagramToSend(t + absl::Milliseconds(500));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(Parsed(*response).type, wire::PacketType::kChallengeResponse);
}

TEST(UdpClientHandshakeTest, OtherNoncesRepeatsAndStrayPacketsChangeNothing) {
  UdpClientHandshake handshake(5);
  (void)handshake.DatagramToSend(kStart);
  EXPECT_FALSE(
      handshake.Receive(Parsed(wire::EncodeChallenge(ChallengeFor(6)))));
  EXPECT_FALSE(handshake.Receive(
      Parsed(wire::EncodeAccepted({.nonce = 6, .connection_id = 3}))));
  EXPECT_FALSE(handshake.Receive(Parsed(wire::EncodeData(3, 1, "x"))));
  EXPECT_FALSE(handshake.Receive(Parsed(wire::EncodeDisconnect(
      {.connection_id = 3, .code = wire::DisconnectCode::kTimedOut}))));
  EXPECT_EQ(handshake.state(), State::kRequesting);
  EXPECT_TRUE(
      handshake.Receive(Parsed(wire::EncodeChallenge(ChallengeFor(5)))));
  // A repeated Challenge (our retransmit crossed its answer) is ignored.
  wire::Challenge later = ChallengeFor(5);
  later.issued_at_ms = 9999;
  EXPECT_FALSE(handshake.Receive(Parsed(wire::EncodeChallenge(later))));
  EXPECT_EQ(handshake.challenge()->issued_at_ms, 1234u);
  // An Accepted with id 0 names no connection.
  EXPECT_FALSE(handshake.Receive(
      Parsed(wire::EncodeAccepted({.nonce = 5, .connection_id = 0}))));
  EXPECT_EQ(handshake.state(), State::kResponding);
}

TEST(UdpClientHandshakeTest, ARefusalEndsItWithItsCode) {
  UdpClientHandshake handshake(11);
  (void)handshake.DatagramToSend(kStart);
  handshake.Receive(Parsed(wire::EncodeChallenge(ChallengeFor(11))));
  EXPECT_TRUE(handshake.Receive(Parsed(wire::EncodeDisconnect(
      {.connection_id = 0, .code = wire::DisconnectCode::kServerFull}))));
  EXPECT_EQ(handshake.state(), State::kRefused);
  EXPECT_EQ(handshake.refusal(), wire::DisconnectCode::kServerFull);
  EXPECT_FALSE(handshake.DatagramToSend(kStart + absl::Hours(1)).has_value());
  // Nothing after the end changes it.
  EXPECT_FALSE(handshake.Receive(
      Parsed(wire::EncodeAccepted({.nonce = 11, .connection_id = 4}))));
  EXPECT_EQ(handshake.connection_id(), 0u);
}

}  // namespace
}  // namespace gss
