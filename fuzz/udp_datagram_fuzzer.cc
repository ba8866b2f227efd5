// Fuzz target for what a UDP socket hands the gateway: the datagram parser
// (common/wire_format), the challenge cookie check a ChallengeResponse leads
// to (gateway/cookie), and the replay window that Data sequence numbers go
// through.
//
// Input: one datagram. A Data datagram's payload is also read as further
// sequence numbers (8 bytes each, big-endian) arriving on the same connection.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/wire_format.h"
#include "fuzz/fixtures.h"
#include "fuzz/fuzz_check.h"
#include "gateway/cookie.h"

namespace {

namespace wire = gss::wire;
using gss::gateway::Cookie;
using gss::gateway::CookieAuthority;
using gss::gateway::CookieInput;

using gss::fuzz::kCookieLifetimeMs;
using gss::fuzz::kCookieNowMs;

const CookieAuthority& Authority() {
  static const CookieAuthority* authority =
      new CookieAuthority(gss::fuzz::CookieSecret(), kCookieLifetimeMs);
  return *authority;
}

CookieInput SenderInput(uint64_t nonce, uint64_t issued_at_ms) {
  return CookieInput{.address = gss::fuzz::kSenderAddress,
                     .port = gss::fuzz::kSenderPort,
                     .nonce = nonce,
                     .issued_at_ms = issued_at_ms};
}

// The size ParseDatagram requires of each type (kData: at least).
size_t SizeOf(wire::PacketType type) {
  switch (type) {
    case wire::PacketType::kConnectRequest:
    case wire::PacketType::kChallengeResponse:
      return wire::kHandshakeRequestSize;
    case wire::PacketType::kChallenge:
      return wire::kUdpHeaderSize + 16 + wire::kCookieSize;
    case wire::PacketType::kAccepted:
      return wire::kUdpHeaderSize + 16;
    case wire::PacketType::kData:
      return wire::DataSize(0);
    case wire::PacketType::kDisconnect:
      return wire::kUdpHeaderSize + 9;
  }
  return 0;
}

// Encodes a parsed datagram again. Handshake requests come back with zero
// padding, whatever padding was received.
std::string Encode(const wire::Datagram& datagram) {
  switch (datagram.type) {
    case wire::PacketType::kConnectRequest:
      return wire::EncodeConnectRequest(datagram.connect_request);
    case wire::PacketType::kChallenge:
      return wire::EncodeChallenge(datagram.challenge);
    case wire::PacketType::kChallengeResponse:
      return wire::EncodeChallengeResponse(datagram.challenge_response);
    case wire::PacketType::kAccepted:
      return wire::EncodeAccepted(datagram.accepted);
    case wire::PacketType::kData:
      return wire::EncodeData(datagram.data.connection_id,
                              datagram.data.sequence, datagram.data.payload);
    case wire::PacketType::kDisconnect:
      return wire::EncodeDisconnect(datagram.disconnect);
  }
  return "";
}

// The bytes a handshake request's fields occupy (the rest is padding).
size_t MeaningfulSize(wire::PacketType type) {
  switch (type) {
    case wire::PacketType::kConnectRequest:
      return wire::kUdpHeaderSize + 8;
    case wire::PacketType::kChallengeResponse:
      return wire::kUdpHeaderSize + 16 + wire::kCookieSize;
    default:
      return SIZE_MAX;
  }
}

bool SameDatagram(const wire::Datagram& a, const wire::Datagram& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case wire::PacketType::kConnectRequest:
      return a.connect_request.nonce == b.connect_request.nonce;
    case wire::PacketType::kChallenge:
      return a.challenge.nonce == b.challenge.nonce &&
             a.challenge.issued_at_ms == b.challenge.issued_at_ms &&
             a.challenge.cookie == b.challenge.cookie;
    case wire::PacketType::kChallengeResponse:
      return a.challenge_response.nonce == b.challenge_response.nonce &&
             a.challenge_response.issued_at_ms ==
                 b.challenge_response.issued_at_ms &&
             a.challenge_response.cookie == b.challenge_response.cookie;
    case wire::PacketType::kAccepted:
      return a.accepted.nonce == b.accepted.nonce &&
             a.accepted.connection_id == b.accepted.connection_id;
    case wire::PacketType::kData:
      return a.data.connection_id == b.data.connection_id &&
             a.data.sequence == b.data.sequence &&
             a.data.payload == b.data.payload;
    case wire::PacketType::kDisconnect:
      return a.disconnect.connection_id == b.disconnect.connection_id &&
             a.disconnect.code == b.disconnect.code;
  }
  return false;
}

// The gateway's check of a ChallengeResponse, against what it must decide:
// a cookie is good only if minted for exactly these fields and still fresh.
void CheckCookie(const wire::ChallengeResponse& response) {
  const CookieAuthority& authority = Authority();
  const CookieInput input = SenderInput(response.nonce, response.issued_at_ms);
  const bool fresh = response.issued_at_ms <= kCookieNowMs &&
                     kCookieNowMs - response.issued_at_ms < kCookieLifetimeMs;
  const Cookie minted = authority.Mint(input);

  const absl::Status verified =
      authority.Verify(input, response.cookie, kCookieNowMs);
  FUZZ_CHECK(verified.ok() == (fresh && minted == response.cookie));
  if (response.issued_at_ms > kCookieNowMs) {
    FUZZ_CHECK(absl::IsInvalidArgument(verified));
  } else if (!fresh) {
    FUZZ_CHECK(absl::IsDeadlineExceeded(verified));
  }

  // The cookie the gateway would have minted passes exactly when fresh, and
  // does not pass for another sender port.
  FUZZ_CHECK(authority.Verify(input, minted, kCookieNowMs).ok() == fresh);
  CookieInput moved = input;
  moved.port = static_cast<uint16_t>(input.port + 1);
  FUZZ_CHECK(!authority.Verify(moved, minted, kCookieNowMs).ok());
}

uint64_t BigEndian64(const char* in) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = value << 8 | static_cast<uint8_t>(in[i]);
  return value;
}

// The replay window against its definition: a sequence number is taken once,
// never 0, and not when 64 or more below the highest taken.
void CheckReplayWindow(const wire::Data& data) {
  wire::ReplayWindow window;
  std::set<uint64_t> taken;
  uint64_t highest = 0;
  auto offer = [&](uint64_t sequence) {
    const bool expected = sequence != 0 && !taken.contains(sequence) &&
                          (sequence > highest || highest - sequence < 64);
    FUZZ_CHECK(window.Accept(sequence) == expected);
    if (expected) {
      taken.insert(sequence);
      highest = std::max(highest, sequence);
    }
    FUZZ_CHECK(window.highest() == highest);
  };
  offer(data.sequence);
  for (size_t at = 0; at + 8 <= data.payload.size(); at += 8) {
    offer(BigEndian64(data.payload.data() + at));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<wire::Datagram> parsed = wire::ParseDatagram(bytes);
  if (!parsed.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(parsed.status()));
    return 0;
  }
  const wire::Datagram& datagram = *parsed;

  // Only well-formed datagrams of the documented sizes get through.
  FUZZ_CHECK(size <= wire::kMaxDatagramSize);
  FUZZ_CHECK(bytes[0] == 'G' && bytes[1] == 'S');
  FUZZ_CHECK(static_cast<uint8_t>(bytes[2]) == wire::kProtocolVersion);
  FUZZ_CHECK(static_cast<uint8_t>(bytes[3]) ==
             static_cast<uint8_t>(datagram.type));
  if (datagram.type == wire::PacketType::kData) {
    FUZZ_CHECK(size >= SizeOf(datagram.type));
    FUZZ_CHECK(datagram.data.payload.size() == size - wire::DataSize(0));
    // The payload is a view into the datagram, not a copy.
    FUZZ_CHECK(datagram.data.payload.data() ==
               bytes.data() + size - datagram.data.payload.size());
  } else {
    FUZZ_CHECK(size == SizeOf(datagram.type));
  }

  // Round trip: the encoding of what was parsed is the datagram itself (up to
  // the padding of handshake requests) and parses to the same fields.
  const std::string encoded = Encode(datagram);
  FUZZ_CHECK(encoded.size() == size);
  const size_t meaningful = std::min(size, MeaningfulSize(datagram.type));
  FUZZ_CHECK(std::memcmp(encoded.data(), data, meaningful) == 0);
  for (size_t i = meaningful; i < encoded.size(); ++i) {
    FUZZ_CHECK(encoded[i] == '\0');
  }
  const absl::StatusOr<wire::Datagram> reparsed = wire::ParseDatagram(encoded);
  FUZZ_CHECK(reparsed.ok());
  FUZZ_CHECK(SameDatagram(*reparsed, datagram));

  switch (datagram.type) {
    case wire::PacketType::kChallengeResponse:
      CheckCookie(datagram.challenge_response);
      break;
    case wire::PacketType::kData:
      CheckReplayWindow(datagram.data);
      break;
    default:
      break;
  }
  return 0;
}
