// The byte-level framing between game clients and the gateway (TCP frames,
// UDP datagrams and the UDP challenge handshake), shared by both ends. Pure
// encode/decode: no sockets, no clocks, no randomness. docs/protocol.md is the
// normative description.
#ifndef COMMON_WIRE_FORMAT_H_
#define COMMON_WIRE_FORMAT_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace gss::wire {

// --- TCP
// ---------------------------------------------------------------------- Each
// frame: a 4-byte big-endian payload length, then the payload (one serialized
// gss.game.v1 message).

inline constexpr size_t kTcpHeaderSize = 4;
inline constexpr uint32_t kDefaultMaxFrameSize = 16 * 1024;

// Appends one frame carrying `payload` to `out`.
void AppendTcpFrame(absl::string_view payload, std::string& out);

// Reassembles frames from a TCP byte stream. Feed it what the socket read;
// take complete payloads out. A length over the maximum poisons the decoder:
// the stream cannot be resynchronised, so the connection must be dropped.
class TcpFrameDecoder {
 public:
  explicit TcpFrameDecoder(uint32_t max_frame_size = kDefaultMaxFrameSize)
      : max_frame_size_(max_frame_size) {}

  // Appends bytes. Returns ResourceExhausted (and keeps failing) once a frame
  // header announces more than max_frame_size.
  absl::Status Feed(absl::string_view bytes);
  // Moves the next complete payload into `payload`; false when none is ready.
  bool Next(std::string& payload);
  // Bytes held that do not yet make a whole frame.
  size_t buffered() const { return buffer_.size() - read_offset_; }

 private:
  absl::Status CheckHeader();

  const uint32_t max_frame_size_;
  std::string buffer_;
  size_t read_offset_ = 0;
  absl::Status error_;
};

// --- UDP
// ---------------------------------------------------------------------- Every
// datagram starts with a 4-byte header: 'G' 'S', the protocol version, and the
// packet type. Integers are big-endian.

inline constexpr uint8_t kMagic0 = 'G';
inline constexpr uint8_t kMagic1 = 'S';
inline constexpr uint8_t kProtocolVersion = 1;
inline constexpr size_t kUdpHeaderSize = 4;
inline constexpr size_t kCookieSize = 16;
// Handshake requests are padded to this size so that no reply to an address
// that has not proven itself is larger than what it sent.
inline constexpr size_t kHandshakeRequestSize = 64;
inline constexpr size_t kMaxDatagramSize = 1200;

enum class PacketType : uint8_t {
  kConnectRequest = 1,  // client -> gateway: nonce, padding.
  kChallenge = 2,       // gateway -> client: nonce, issued_at, cookie.
  kChallengeResponse =
      3,            // client -> gateway: nonce, issued_at, cookie, padding.
  kAccepted = 4,    // gateway -> client: nonce, connection id.
  kData = 5,        // both ways: connection id, sequence, payload.
  kDisconnect = 6,  // both ways: connection id, reason code.
};

// Why a gateway or client ends a UDP connection (carried in kDisconnect).
enum class DisconnectCode : uint8_t {
  kGoodbye = 0,  // Orderly close by the sender.
  kTimedOut = 1,
  kRateLimited = 2,
  kMalformed = 3,
  kFrameTooLarge = 4,
  kClosedByService = 5,  // The session service closed the peer.
  kGatewayShutdown = 6,
  kServerFull = 7,
};

struct ConnectRequest {
  uint64_t nonce = 0;  // Chosen by the client; echoed to match replies.
};

struct Challenge {
  uint64_t nonce = 0;
  uint64_t issued_at_ms = 0;  // Gateway's clock; part of the cookie.
  std::array<uint8_t, kCookieSize> cookie{};
};

struct ChallengeResponse {
  uint64_t nonce = 0;
  uint64_t issued_at_ms = 0;
  std::array<uint8_t, kCookieSize> cookie{};
};

struct Accepted {
  uint64_t nonce = 0;
  uint64_t connection_id = 0;
};

struct Data {
  uint64_t connection_id = 0;
  // Per direction, starting at 1; the receiver drops repeats and packets
  // older than its replay window.
  uint64_t sequence = 0;
  absl::string_view payload;  // Points into the datagram passed to Parse.
};

struct Disconnect {
  uint64_t connection_id = 0;
  DisconnectCode code = DisconnectCode::kGoodbye;
};

struct Datagram {
  PacketType type;
  ConnectRequest connect_request;
  Challenge challenge;
  ChallengeResponse challenge_response;
  Accepted accepted;
  Data data;
  Disconnect disconnect;
};

// Parses one datagram. InvalidArgument for anything malformed: bad magic or
// version, unknown type, wrong size (handshake requests must be exactly
// kHandshakeRequestSize), oversized. Never reads outside `bytes`.
absl::StatusOr<Datagram> ParseDatagram(absl::string_view bytes);

std::string EncodeConnectRequest(const ConnectRequest& packet);
std::string EncodeChallenge(const Challenge& packet);
std::string EncodeChallengeResponse(const ChallengeResponse& packet);
std::string EncodeAccepted(const Accepted& packet);
std::string EncodeData(uint64_t connection_id, uint64_t sequence,
                       absl::string_view payload);
std::string EncodeDisconnect(const Disconnect& packet);

// Size of a kData datagram carrying `payload_size` bytes.
constexpr size_t DataSize(size_t payload_size) {
  return kUdpHeaderSize + 8 + 8 + payload_size;
}

// A sliding window over received sequence numbers (the last 64): accepts each
// sequence number at most once and refuses ones too old to judge.
class ReplayWindow {
 public:
  // True, and remembers it, when `sequence` is new and not too old.
  bool Accept(uint64_t sequence);
  uint64_t highest() const { return highest_; }

 private:
  uint64_t highest_ = 0;
  uint64_t seen_mask_ = 0;  // Bit i: highest_ - i was received.
};

}  // namespace gss::wire

#endif  // COMMON_WIRE_FORMAT_H_
