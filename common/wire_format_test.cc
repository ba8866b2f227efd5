// Tests of the client/gateway framing codec: TCP frame reassembly (including
// byte-by-byte feeding and oversize poisoning), every UDP datagram type, every
// malformed case, and the replay window.
#include "common/wire_format.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gss::wire {
namespace {

std::string Bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

// --- TCP ---------------------------------------------------------------------

TEST(TcpFrameTest, AppendWritesBigEndianLengthThenPayload) {
  std::string out;
  AppendTcpFrame("abc", out);
  EXPECT_EQ(out, Bytes({0, 0, 0, 3, 'a', 'b', 'c'}));
  AppendTcpFrame("", out);
  EXPECT_EQ(out.size(), 7u + 4u);
  EXPECT_EQ(out.substr(7), Bytes({0, 0, 0, 0}));
}

TEST(TcpFrameTest, LengthIsBigEndianForLargePayloads) {
  std::string out;
  AppendTcpFrame(std::string(0x0102, 'x'), out);
  EXPECT_EQ(out.substr(0, 4), Bytes({0, 0, 1, 2}));
}

TEST(TcpFrameDecoderTest, DecodesWholeFrames) {
  std::string stream;
  AppendTcpFrame("hello", stream);
  AppendTcpFrame("", stream);
  AppendTcpFrame("world!", stream);
  TcpFrameDecoder decoder;
  ASSERT_TRUE(decoder.Feed(stream).ok());
  std::string payload;
  ASSERT_TRUE(decoder.Next(payload));
  EXPECT_EQ(payload, "hello");
  ASSERT_TRUE(decoder.Next(payload));
  EXPECT_EQ(payload, "");
  ASSERT_TRUE(decoder.Next(payload));
  EXPECT_EQ(payload, "world!");
  EXPECT_FALSE(decoder.Next(payload));
  EXPECT_EQ(decoder.buffered(), 0u);
}

TEST(TcpFrameDecoderTest, ReassemblesWhenFedByteByByte) {
  std::vector<std::string> sent = {"a", "", std::string(300, 'q'), "xyz"};
  std::string stream;
  for (const auto& s : sent) AppendTcpFrame(s, stream);

  TcpFrameDecoder decoder;
  std::vector<std::string> received;
  std::string payload;
  for (size_t i = 0; i < stream.size(); ++i) {
    ASSERT_TRUE(decoder.Feed(absl::string_view(&stream[i], 1)).ok()) << i;
    while (decoder.Next(payload)) received.push_back(payload);
  }
  EXPECT_EQ(received, sent);
  EXPECT_EQ(decoder.buffered(), 0u);
}

TEST(TcpFrameDecoderTest, ReportsBufferedPartialFrame) {
  std::string stream;
  AppendTcpFrame("abcdef", stream);
  TcpFrameDecoder decoder;
  ASSERT_TRUE(decoder.Feed(absl::string_view(stream).substr(0, 6)).ok());
  std::string payload;
  EXPECT_FALSE(decoder.Next(payload));
  EXPECT_EQ(decoder.buffered(), 6u);
  ASSERT_TRUE(decoder.Feed(absl::string_view(stream).substr(6)).ok());
  ASSERT_TRUE(decoder.Next(payload));
  EXPECT_EQ(payload, "abcdef");
}

TEST(TcpFrameDecoderTest, AcceptsFrameOfExactlyTheMaximum) {
  TcpFrameDecoder decoder(8);
  std::string stream;
  AppendTcpFrame("12345678", stream);
  ASSERT_TRUE(decoder.Feed(stream).ok());
  std::string payload;
  ASSERT_TRUE(decoder.Next(payload));
  EXPECT_EQ(payload, "12345678");
}

TEST(TcpFrameDecoderTest, OversizedHeaderPoisonsTheDecoder) {
  TcpFrameDecoder decoder(8);
  // Only the header: the decoder must not wait for a payload it will refuse.
  absl::Status status = decoder.Feed(Bytes({0, 0, 0, 9}));
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  std::string payload;
  EXPECT_FALSE(decoder.Next(payload));
  // Keeps failing, even when later bytes would make valid frames.
  std::string valid;
  AppendTcpFrame("ok", valid);
  EXPECT_EQ(decoder.Feed(valid).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_FALSE(decoder.Next(payload));
}

TEST(TcpFrameDecoderTest, OversizedHeaderFedByteByByteIsCaughtAtTheFourthByte) {
  TcpFrameDecoder decoder(100);
  const std::string header = Bytes({0x7f, 0xff, 0xff, 0xff});
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(decoder.Feed(header.substr(i, 1)).ok());
  }
  EXPECT_FALSE(decoder.Feed(header.substr(3, 1)).ok());
}

TEST(TcpFrameDecoderTest, OversizedFrameAfterAValidOneIsFoundAfterNext) {
  TcpFrameDecoder decoder(8);
  std::string stream;
  AppendTcpFrame("good", stream);
  stream += Bytes({0, 0, 1, 0});  // 256 > 8.
  ASSERT_TRUE(decoder.Feed(stream).ok());
  std::string payload;
  ASSERT_TRUE(decoder.Next(payload));
  EXPECT_EQ(payload, "good");
  EXPECT_FALSE(decoder.Next(payload));
  // The poisoning shows on the next Feed, even an empty one.
  EXPECT_EQ(decoder.Feed("").code(), absl::StatusCode::kResourceExhausted);
}

TEST(TcpFrameDecoderTest, LongStreamKeepsBufferSmall) {
  TcpFrameDecoder decoder;
  std::string frame;
  AppendTcpFrame(std::string(100, 'z'), frame);
  std::string payload;
  for (int i = 0; i < 10000; ++i) {
    // Feed one and a half frames at a time so the buffer always has a tail.
    ASSERT_TRUE(decoder.Feed(frame).ok());
    while (decoder.Next(payload)) EXPECT_EQ(payload.size(), 100u);
    EXPECT_LT(decoder.buffered(), frame.size());
  }
}

// --- UDP ---------------------------------------------------------------------

TEST(DatagramTest, ConnectRequestRoundTrip) {
  const std::string bytes =
      EncodeConnectRequest(ConnectRequest{.nonce = 0x0102030405060708});
  ASSERT_EQ(bytes.size(), kHandshakeRequestSize);
  EXPECT_EQ(bytes.substr(0, 4), Bytes({'G', 'S', 1, 1}));
  EXPECT_EQ(bytes.substr(4, 8), Bytes({1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(bytes.substr(12), std::string(kHandshakeRequestSize - 12, '\0'));
  auto parsed = ParseDatagram(bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->type, PacketType::kConnectRequest);
  EXPECT_EQ(parsed->connect_request.nonce, 0x0102030405060708u);
}

TEST(DatagramTest, ChallengeRoundTrip) {
  Challenge challenge{.nonce = 7, .issued_at_ms = 123456789};
  for (size_t i = 0; i < kCookieSize; ++i) challenge.cookie[i] = i * 3;
  const std::string bytes = EncodeChallenge(challenge);
  ASSERT_EQ(bytes.size(), 36u);
  auto parsed = ParseDatagram(bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->type, PacketType::kChallenge);
  EXPECT_EQ(parsed->challenge.nonce, 7u);
  EXPECT_EQ(parsed->challenge.issued_at_ms, 123456789u);
  EXPECT_EQ(parsed->challenge.cookie, challenge.cookie);
}

TEST(DatagramTest, ChallengeResponseRoundTrip) {
  ChallengeResponse response{.nonce = ~uint64_t{0}, .issued_at_ms = 42};
  for (size_t i = 0; i < kCookieSize; ++i) response.cookie[i] = 255 - i;
  const std::string bytes = EncodeChallengeResponse(response);
  ASSERT_EQ(bytes.size(), kHandshakeRequestSize);
  auto parsed = ParseDatagram(bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->type, PacketType::kChallengeResponse);
  EXPECT_EQ(parsed->challenge_response.nonce, ~uint64_t{0});
  EXPECT_EQ(parsed->challenge_response.issued_at_ms, 42u);
  EXPECT_EQ(parsed->challenge_response.cookie, response.cookie);
}

TEST(DatagramTest, AcceptedRoundTrip) {
  const std::string bytes = EncodeAccepted(
      Accepted{.nonce = 99, .connection_id = 0xdeadbeef00000001});
  ASSERT_EQ(bytes.size(), 20u);
  auto parsed = ParseDatagram(bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->type, PacketType::kAccepted);
  EXPECT_EQ(parsed->accepted.nonce, 99u);
  EXPECT_EQ(parsed->accepted.connection_id, 0xdeadbeef00000001u);
}

TEST(DatagramTest, DataRoundTrip) {
  const std::string bytes = EncodeData(5, 6, "payload");
  ASSERT_EQ(bytes.size(), DataSize(7));
  auto parsed = ParseDatagram(bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->type, PacketType::kData);
  EXPECT_EQ(parsed->data.connection_id, 5u);
  EXPECT_EQ(parsed->data.sequence, 6u);
  EXPECT_EQ(parsed->data.payload, "payload");
  // The payload is a view into the datagram, not a copy.
  EXPECT_EQ(parsed->data.payload.data(), bytes.data() + 20);
}

TEST(DatagramTest, DataWithEmptyAndMaximalPayloads) {
  // The parsed payload views the datagram: keep the bytes alive.
  const std::string empty_bytes = EncodeData(1, 1, "");
  auto empty = ParseDatagram(empty_bytes);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->data.payload, "");
  const std::string biggest(kMaxDatagramSize - DataSize(0), 'b');
  const std::string full_bytes = EncodeData(1, 2, biggest);
  auto full = ParseDatagram(full_bytes);
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->data.payload, biggest);
  EXPECT_FALSE(ParseDatagram(EncodeData(1, 3, biggest + "x")).ok());
}

TEST(DatagramTest, DisconnectRoundTripForEveryCode) {
  for (int code = 0; code <= 7; ++code) {
    const std::string bytes = EncodeDisconnect(Disconnect{
        .connection_id = 77, .code = static_cast<DisconnectCode>(code)});
    ASSERT_EQ(bytes.size(), 13u);
    auto parsed = ParseDatagram(bytes);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->type, PacketType::kDisconnect);
    EXPECT_EQ(parsed->disconnect.connection_id, 77u);
    EXPECT_EQ(static_cast<int>(parsed->disconnect.code), code);
  }
}

TEST(DatagramTest, RepliesToHandshakeAreNeverLargerThanRequests) {
  EXPECT_LE(EncodeChallenge(Challenge{}).size(),
            EncodeConnectRequest(ConnectRequest{}).size());
  EXPECT_LE(EncodeAccepted(Accepted{}).size(),
            EncodeChallengeResponse(ChallengeResponse{}).size());
  EXPECT_LE(EncodeDisconnect(Disconnect{}).size(),
            EncodeChallengeResponse(ChallengeResponse{}).size());
}

void ExpectMalformed(absl::string_view bytes, absl::string_view what) {
  auto parsed = ParseDatagram(bytes);
  EXPECT_FALSE(parsed.ok()) << what;
  if (!parsed.ok()) {
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << what;
  }
}

TEST(DatagramTest, RejectsEveryMalformedShape) {
  ExpectMalformed("", "empty");
  ExpectMalformed("GS\x01", "shorter than a header");
  ExpectMalformed(std::string(kMaxDatagramSize + 1, 'G'), "oversized");

  std::string bad_magic = EncodeData(1, 1, "x");
  bad_magic[0] = 'X';
  ExpectMalformed(bad_magic, "bad magic 0");
  bad_magic = EncodeData(1, 1, "x");
  bad_magic[1] = 'X';
  ExpectMalformed(bad_magic, "bad magic 1");

  std::string bad_version = EncodeData(1, 1, "x");
  bad_version[2] = 2;
  ExpectMalformed(bad_version, "bad version");
  bad_version[2] = 0;
  ExpectMalformed(bad_version, "version 0");

  for (int type : {0, 7, 8, 200, 255}) {
    std::string unknown = Bytes({'G', 'S', 1, type});
    unknown.resize(kHandshakeRequestSize, '\0');
    ExpectMalformed(unknown, "unknown type");
  }

  const std::string request = EncodeConnectRequest(ConnectRequest{.nonce = 1});
  ExpectMalformed(request.substr(0, 12), "unpadded connect request");
  ExpectMalformed(request.substr(0, kHandshakeRequestSize - 1),
                  "short connect request");
  ExpectMalformed(request + '\0', "long connect request");

  const std::string response = EncodeChallengeResponse(ChallengeResponse{});
  ExpectMalformed(response.substr(0, 36), "unpadded challenge response");
  ExpectMalformed(response + '\0', "long challenge response");

  const std::string challenge = EncodeChallenge(Challenge{});
  ExpectMalformed(challenge.substr(0, 35), "short challenge");
  ExpectMalformed(challenge + '\0', "long challenge");

  const std::string accepted = EncodeAccepted(Accepted{});
  ExpectMalformed(accepted.substr(0, 19), "short accepted");
  ExpectMalformed(accepted + '\0', "long accepted");

  const std::string data = EncodeData(1, 1, "");
  for (size_t size = kUdpHeaderSize; size < data.size(); ++size) {
    ExpectMalformed(data.substr(0, size), "short data");
  }

  const std::string disconnect = EncodeDisconnect(Disconnect{});
  ExpectMalformed(disconnect.substr(0, 12), "short disconnect");
  ExpectMalformed(disconnect + '\0', "long disconnect");
}

TEST(DatagramTest, EveryTruncationOfEveryTypeIsHandled) {
  // Whatever prefix arrives, parsing neither crashes nor reads past the end
  // (the sanitizer build checks the latter); only the whole datagram parses
  // for fixed-size types.
  const std::vector<std::string> datagrams = {
      EncodeConnectRequest(ConnectRequest{.nonce = 3}),
      EncodeChallenge(Challenge{.nonce = 3}),
      EncodeChallengeResponse(ChallengeResponse{.nonce = 3}),
      EncodeAccepted(Accepted{.nonce = 3}),
      EncodeDisconnect(Disconnect{.connection_id = 3}),
  };
  for (const std::string& datagram : datagrams) {
    for (size_t size = 0; size < datagram.size(); ++size) {
      // Copy so that the sanitizer sees the exact end of the buffer.
      const std::string prefix = datagram.substr(0, size);
      EXPECT_FALSE(ParseDatagram(prefix).ok()) << size;
    }
    EXPECT_TRUE(ParseDatagram(datagram).ok());
  }
}

// --- Replay window -----------------------------------------------------------

TEST(ReplayWindowTest, AcceptsInOrderOnce) {
  ReplayWindow window;
  for (uint64_t s = 1; s <= 200; ++s) {
    EXPECT_TRUE(window.Accept(s)) << s;
    EXPECT_FALSE(window.Accept(s)) << s;
  }
  EXPECT_EQ(window.highest(), 200u);
}

TEST(ReplayWindowTest, RejectsZero) {
  ReplayWindow window;
  EXPECT_FALSE(window.Accept(0));
  EXPECT_TRUE(window.Accept(1));
  EXPECT_FALSE(window.Accept(0));
}

TEST(ReplayWindowTest, AcceptsReorderedWithinWindowOnce) {
  ReplayWindow window;
  EXPECT_TRUE(window.Accept(10));
  EXPECT_TRUE(window.Accept(8));
  EXPECT_TRUE(window.Accept(9));
  EXPECT_FALSE(window.Accept(8));
  EXPECT_FALSE(window.Accept(10));
  EXPECT_TRUE(window.Accept(1));
  EXPECT_FALSE(window.Accept(1));
}

TEST(ReplayWindowTest, RejectsSixtyFourOrMoreBehind) {
  ReplayWindow window;
  EXPECT_TRUE(window.Accept(100));
  EXPECT_TRUE(window.Accept(100 - 63));   // 63 behind: still judged.
  EXPECT_FALSE(window.Accept(100 - 64));  // 64 behind: too old.
  EXPECT_FALSE(window.Accept(1));
}

TEST(ReplayWindowTest, BigJumpForgetsTheOldMask) {
  ReplayWindow window;
  EXPECT_TRUE(window.Accept(5));
  EXPECT_TRUE(window.Accept(1000));
  EXPECT_FALSE(window.Accept(5));
  EXPECT_TRUE(window.Accept(999));
  EXPECT_TRUE(window.Accept(1000 - 63));
  EXPECT_FALSE(window.Accept(1000));
}

TEST(ReplayWindowTest, JumpOfExactly64ShiftsEverythingOut) {
  ReplayWindow window;
  EXPECT_TRUE(window.Accept(1));
  EXPECT_TRUE(window.Accept(65));
  EXPECT_FALSE(window.Accept(1));  // 64 behind.
  EXPECT_TRUE(window.Accept(2));   // 63 behind, never seen.
}

TEST(ReplayWindowTest, HandlesTheTopOfTheRange) {
  ReplayWindow window;
  const uint64_t top = ~uint64_t{0};
  EXPECT_TRUE(window.Accept(top));
  EXPECT_FALSE(window.Accept(top));
  EXPECT_TRUE(window.Accept(top - 1));
  EXPECT_FALSE(window.Accept(1));
}

}  // namespace
}  // namespace gss::wire
