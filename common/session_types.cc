#include "common/session_types.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace gss {
namespace {

bool ParseHexBytes(absl::string_view text, uint8_t* out, size_t count) {
  if (text.size() != count * 2) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < count; ++i) {
    const int hi = nibble(text[2 * i]);
    const int lo = nibble(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

std::string HexBytes(const uint8_t* data, size_t count) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(count * 2, '0');
  for (size_t i = 0; i < count; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0xf];
  }
  return out;
}

void PutBigEndian64(uint64_t value, uint8_t* out) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<uint8_t>(value);
    value >>= 8;
  }
}

uint64_t GetBigEndian64(const uint8_t* in) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = value << 8 | in[i];
  return value;
}

}  // namespace

std::string SessionId::ToString() const {
  return absl::StrFormat("%016x", value);
}

absl::StatusOr<SessionId> SessionId::Parse(absl::string_view text) {
  uint8_t bytes[8];
  if (!ParseHexBytes(text, bytes, sizeof(bytes))) {
    return absl::InvalidArgumentError(
        absl::StrCat("session id must be 16 hex digits, got \"", text, "\""));
  }
  SessionId id{GetBigEndian64(bytes)};
  if (!id.valid()) return absl::InvalidArgumentError("session id 0 is invalid");
  return id;
}

PeerAddress PeerAddress::V4(uint32_t host_order_ip, uint16_t port) {
  PeerAddress address;
  address.family = 4;
  address.port = port;
  address.bytes[0] = static_cast<uint8_t>(host_order_ip >> 24);
  address.bytes[1] = static_cast<uint8_t>(host_order_ip >> 16);
  address.bytes[2] = static_cast<uint8_t>(host_order_ip >> 8);
  address.bytes[3] = static_cast<uint8_t>(host_order_ip);
  return address;
}

absl::StatusOr<PeerAddress> PeerAddress::Parse(absl::string_view text) {
  PeerAddress address;
  std::string host;
  absl::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find("]:");
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("address \"", text, "\" is not [ipv6]:port"));
    }
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
    address.family = 6;
  } else {
    const size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("address \"", text, "\" has no port"));
    }
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    address.family = 4;
  }
  // Decimal digits only: SimpleAtoi alone also takes a sign and whitespace.
  const bool all_digits =
      !port_text.empty() &&
      std::all_of(port_text.begin(), port_text.end(),
                  [](char c) { return c >= '0' && c <= '9'; });
  uint32_t port = 0;
  if (!all_digits || !absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("address \"", text, "\" has a bad port"));
  }
  address.port = static_cast<uint16_t>(port);
  const int af = address.family == 6 ? AF_INET6 : AF_INET;
  // inet_pton reads a C string: a host with a NUL would be judged by what
  // comes before it.
  if (host.find('\0') != std::string::npos ||
      inet_pton(af, host.c_str(), address.bytes.data()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("address \"", text, "\" has a bad host"));
  }
  return address;
}

std::string PeerAddress::ToString() const {
  char host[INET6_ADDRSTRLEN] = {};
  switch (family) {
    case 4:
      inet_ntop(AF_INET, bytes.data(), host, sizeof(host));
      return absl::StrCat(host, ":", port);
    case 6:
      inet_ntop(AF_INET6, bytes.data(), host, sizeof(host));
      return absl::StrCat("[", host, "]:", port);
    default:
      return "unknown";
  }
}

std::string RemoteIdentity::ToString() const {
  return absl::StrCat("gw-", gateway_id, "/conn-", connection_id, " (",
                      address.ToString(), ")");
}

std::string ResumeToken::Encode() const {
  uint8_t bytes[8 + sizeof(ResumeSecret)];
  PutBigEndian64(session.value, bytes);
  std::memcpy(bytes + 8, secret.data(), secret.size());
  return HexBytes(bytes, sizeof(bytes));
}

absl::StatusOr<ResumeToken> ResumeToken::Parse(absl::string_view text) {
  uint8_t bytes[8 + sizeof(ResumeSecret)];
  if (!ParseHexBytes(text, bytes, sizeof(bytes))) {
    return absl::InvalidArgumentError("resume token must be 48 hex digits");
  }
  ResumeToken token;
  token.session = SessionId{GetBigEndian64(bytes)};
  if (!token.session.valid()) {
    return absl::InvalidArgumentError("resume token names no session");
  }
  std::memcpy(token.secret.data(), bytes + 8, token.secret.size());
  return token;
}

bool SecretsEqual(const ResumeSecret& a, const ResumeSecret& b) {
  uint8_t diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i];
  return diff == 0;
}

}  // namespace gss
