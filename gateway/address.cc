#include "gateway/address.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace gss::gateway {

namespace ip = boost::asio::ip;

absl::StatusOr<HostPort> ParseHostPort(absl::string_view text) {
  absl::string_view host;
  absl::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == absl::string_view::npos || close + 1 >= text.size() ||
        text[close + 1] != ':') {
      return absl::InvalidArgumentError(
          absl::StrCat("bad address '", text, "': want [v6]:port"));
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad address '", text, "': want host:port"));
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad address '", text, "': put an IPv6 address in brackets"));
    }
  }
  uint32_t port_number = 0;
  if (!absl::SimpleAtoi(port, &port_number) || port_number > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in '", text, "'"));
  }
  boost::system::error_code ec;
  const ip::address address = ip::make_address(std::string(host), ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad IP address in '", text, "' (names are not resolved)"));
  }
  return HostPort{address, static_cast<uint16_t>(port_number)};
}

std::string FormatAddress(const ip::address& address, uint16_t port) {
  if (address.is_v6()) {
    const ip::address_v6 v6 = address.to_v6();
    if (v6.is_v4_mapped()) {
      return absl::StrCat(ip::make_address_v4(ip::v4_mapped, v6).to_string(),
                          ":", port);
    }
    return absl::StrCat("[", v6.to_string(), "]:", port);
  }
  return absl::StrCat(address.to_string(), ":", port);
}

std::array<uint8_t, 16> AddressBytes(const ip::address& address) {
  if (address.is_v6()) {
    const auto bytes = address.to_v6().to_bytes();
    std::array<uint8_t, 16> out{};
    std::copy(bytes.begin(), bytes.end(), out.begin());
    return out;
  }
  const auto v4 = address.to_v4().to_bytes();
  std::array<uint8_t, 16> out{};
  out[10] = 0xff;
  out[11] = 0xff;
  std::copy(v4.begin(), v4.end(), out.begin() + 12);
  return out;
}

}  // namespace gss::gateway
