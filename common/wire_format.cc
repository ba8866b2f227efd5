#include "common/wire_format.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace gss::wire {
namespace {

void PutU32(uint32_t value, std::string& out) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

void PutU64(uint64_t value, std::string& out) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

uint64_t GetU64(const char* in) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = value << 8 | static_cast<uint8_t>(in[i]);
  return value;
}

uint32_t GetU32(const char* in) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) value = value << 8 | static_cast<uint8_t>(in[i]);
  return value;
}

std::string Header(PacketType type) {
  std::string out;
  out.reserve(kHandshakeRequestSize);
  out.push_back(static_cast<char>(kMagic0));
  out.push_back(static_cast<char>(kMagic1));
  out.push_back(static_cast<char>(kProtocolVersion));
  out.push_back(static_cast<char>(type));
  return out;
}

void PadToHandshakeSize(std::string& out) {
  out.resize(kHandshakeRequestSize, '\0');
}

template <typename Packet>
std::string EncodeNonceTimeCookie(PacketType type, const Packet& packet) {
  std::string out = Header(type);
  PutU64(packet.nonce, out);
  PutU64(packet.issued_at_ms, out);
  out.append(reinterpret_cast<const char*>(packet.cookie.data()),
             packet.cookie.size());
  return out;
}

absl::Status Malformed(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed datagram: ", what));
}

}  // namespace

void AppendTcpFrame(absl::string_view payload, std::string& out) {
  PutU32(static_cast<uint32_t>(payload.size()), out);
  out.append(payload.data(), payload.size());
}

absl::Status TcpFrameDecoder::CheckHeader() {
  if (buffered() < kTcpHeaderSize) return absl::OkStatus();
  const uint32_t length = GetU32(buffer_.data() + read_offset_);
  if (length > max_frame_size_) {
    error_ = absl::ResourceExhaustedError(
        absl::StrCat("frame of ", length, " bytes exceeds the maximum of ",
                     max_frame_size_));
  }
  return error_;
}

absl::Status TcpFrameDecoder::Feed(absl::string_view bytes) {
  if (!error_.ok()) return error_;
  // Compact before growing so a long-lived connection's buffer stays small.
  if (read_offset_ > 0 && read_offset_ * 2 >= buffer_.size()) {
    buffer_.erase(0, read_offset_);
    read_offset_ = 0;
  }
  buffer_.append(bytes.data(), bytes.size());
  return CheckHeader();
}

bool TcpFrameDecoder::Next(std::string& payload) {
  if (!error_.ok() || buffered() < kTcpHeaderSize) return false;
  const uint32_t length = GetU32(buffer_.data() + read_offset_);
  if (buffered() < kTcpHeaderSize + length) return false;
  payload.assign(buffer_, read_offset_ + kTcpHeaderSize, length);
  read_offset_ += kTcpHeaderSize + length;
  if (read_offset_ == buffer_.size()) {
    buffer_.clear();
    read_offset_ = 0;
  }
  // The next header may already be here and be oversized.
  (void)CheckHeader();
  return true;
}

absl::StatusOr<Datagram> ParseDatagram(absl::string_view bytes) {
  if (bytes.size() < kUdpHeaderSize) return Malformed("shorter than a header");
  if (bytes.size() > kMaxDatagramSize) return Malformed("larger than allowed");
  if (static_cast<uint8_t>(bytes[0]) != kMagic0 ||
      static_cast<uint8_t>(bytes[1]) != kMagic1) {
    return Malformed("bad magic");
  }
  if (static_cast<uint8_t>(bytes[2]) != kProtocolVersion) {
    return Malformed(
        absl::StrCat("unsupported version ", static_cast<uint8_t>(bytes[2])));
  }
  Datagram datagram{};
  const char* body = bytes.data() + kUdpHeaderSize;
  const size_t body_size = bytes.size() - kUdpHeaderSize;
  auto need = [&](size_t size, bool exact) {
    return exact ? body_size == size : body_size >= size;
  };
  const size_t handshake_body = kHandshakeRequestSize - kUdpHeaderSize;
  switch (static_cast<uint8_t>(bytes[3])) {
    case static_cast<uint8_t>(PacketType::kConnectRequest):
      if (!need(handshake_body, true)) return Malformed("bad request size");
      datagram.type = PacketType::kConnectRequest;
      datagram.connect_request.nonce = GetU64(body);
      return datagram;
    case static_cast<uint8_t>(PacketType::kChallenge):
      if (!need(16 + kCookieSize, true)) return Malformed("bad challenge size");
      datagram.type = PacketType::kChallenge;
      datagram.challenge.nonce = GetU64(body);
      datagram.challenge.issued_at_ms = GetU64(body + 8);
      std::memcpy(datagram.challenge.cookie.data(), body + 16, kCookieSize);
      return datagram;
    case static_cast<uint8_t>(PacketType::kChallengeResponse):
      if (!need(handshake_body, true)) return Malformed("bad response size");
      datagram.type = PacketType::kChallengeResponse;
      datagram.challenge_response.nonce = GetU64(body);
      datagram.challenge_response.issued_at_ms = GetU64(body + 8);
      std::memcpy(datagram.challenge_response.cookie.data(), body + 16,
                  kCookieSize);
      return datagram;
    case static_cast<uint8_t>(PacketType::kAccepted):
      if (!need(16, true)) return Malformed("bad accepted size");
      datagram.type = PacketType::kAccepted;
      datagram.accepted.nonce = GetU64(body);
      datagram.accepted.connection_id = GetU64(body + 8);
      return datagram;
    case static_cast<uint8_t>(PacketType::kData):
      if (!need(16, false)) return Malformed("data shorter than its header");
      datagram.type = PacketType::kData;
      datagram.data.connection_id = GetU64(body);
      datagram.data.sequence = GetU64(body + 8);
      datagram.data.payload = bytes.substr(kUdpHeaderSize + 16);
      return datagram;
    case static_cast<uint8_t>(PacketType::kDisconnect):
      if (!need(9, true)) return Malformed("bad disconnect size");
      datagram.type = PacketType::kDisconnect;
      datagram.disconnect.connection_id = GetU64(body);
      datagram.disconnect.code = static_cast<DisconnectCode>(body[8]);
      return datagram;
    default:
      return Malformed(
          absl::StrCat("unknown type ", static_cast<uint8_t>(bytes[3])));
  }
}

std::string EncodeConnectRequest(const ConnectRequest& packet) {
  std::string out = Header(PacketType::kConnectRequest);
  PutU64(packet.nonce, out);
  PadToHandshakeSize(out);
  return out;
}

std::string EncodeChallenge(const Challenge& packet) {
  return EncodeNonceTimeCookie(PacketType::kChallenge, packet);
}

std::string EncodeChallengeResponse(const ChallengeResponse& packet) {
  std::string out =
      EncodeNonceTimeCookie(PacketType::kChallengeResponse, packet);
  PadToHandshakeSize(out);
  return out;
}

std::string EncodeAccepted(const Accepted& packet) {
  std::string out = Header(PacketType::kAccepted);
  PutU64(packet.nonce, out);
  PutU64(packet.connection_id, out);
  return out;
}

std::string EncodeData(uint64_t connection_id, uint64_t sequence,
                       absl::string_view payload) {
  std::string out = Header(PacketType::kData);
  out.reserve(DataSize(payload.size()));
  PutU64(connection_id, out);
  PutU64(sequence, out);
  out.append(payload.data(), payload.size());
  return out;
}

std::string EncodeDisconnect(const Disconnect& packet) {
  std::string out = Header(PacketType::kDisconnect);
  PutU64(packet.connection_id, out);
  out.push_back(static_cast<char>(packet.code));
  return out;
}

bool ReplayWindow::Accept(uint64_t sequence) {
  if (sequence == 0) return false;
  if (sequence > highest_) {
    const uint64_t shift = sequence - highest_;
    seen_mask_ = shift >= 64 ? 0 : seen_mask_ << shift;
    seen_mask_ |= 1;
    highest_ = sequence;
    return true;
  }
  const uint64_t age = highest_ - sequence;
  if (age >= 64) return false;
  const uint64_t bit = uint64_t{1} << age;
  if (seen_mask_ & bit) return false;
  seen_mask_ |= bit;
  return true;
}

}  // namespace gss::wire
