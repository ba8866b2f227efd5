// Socket address helpers for the gateway: parsing "host:port" flags, printing
// peer addresses for the service, and compact keys for per-address lookups.
#ifndef GATEWAY_ADDRESS_H_
#define GATEWAY_ADDRESS_H_

// Boost 1.74's Asio needs <utility> first under C++20.
#include <utility>
// clang-format off
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/udp.hpp>
// clang-format on

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace gss::gateway {

struct HostPort {
  boost::asio::ip::address address;
  uint16_t port = 0;
};

// "0.0.0.0:7777", "127.0.0.1:0", "[::]:7777", "[::1]:5". Names are not
// resolved: a listening address is numeric. InvalidArgument otherwise.
absl::StatusOr<HostPort> ParseHostPort(absl::string_view text);

// "1.2.3.4:5" or "[::1]:5"; an IPv4-mapped IPv6 address prints as IPv4.
std::string FormatAddress(const boost::asio::ip::address& address,
                          uint16_t port);

// 16 bytes for any address: IPv4 is written IPv4-mapped.
std::array<uint8_t, 16> AddressBytes(const boost::asio::ip::address& address);

// A UDP source address as a hashable value, built without allocating.
struct UdpAddressKey {
  std::array<uint8_t, 16> address{};
  uint16_t port = 0;

  static UdpAddressKey From(const boost::asio::ip::udp::endpoint& endpoint) {
    return UdpAddressKey{AddressBytes(endpoint.address()), endpoint.port()};
  }
  friend bool operator==(const UdpAddressKey&, const UdpAddressKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const UdpAddressKey& key) {
    return H::combine(std::move(h), key.address, key.port);
  }
};

}  // namespace gss::gateway

#endif  // GATEWAY_ADDRESS_H_
