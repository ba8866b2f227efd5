// Tests of address parsing and printing for flags and peer identities.
#include "gateway/address.h"

#include "absl/hash/hash_testing.h"
#include "gtest/gtest.h"

namespace gss::gateway {
namespace {

namespace ip = boost::asio::ip;

TEST(ParseHostPortTest, AcceptsNumericAddresses) {
  auto v4 = ParseHostPort("0.0.0.0:7777");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_TRUE(v4->address.is_v4());
  EXPECT_EQ(v4->port, 7777);

  auto zero = ParseHostPort("127.0.0.1:0");
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(zero->port, 0);

  auto v6 = ParseHostPort("[::1]:5");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_TRUE(v6->address.is_v6());
  EXPECT_EQ(v6->port, 5);

  auto any6 = ParseHostPort("[::]:65535");
  ASSERT_TRUE(any6.ok());
  EXPECT_EQ(any6->port, 65535);
}

TEST(ParseHostPortTest, RefusesEverythingElse) {
  for (const char* bad :
       {"", "7777", ":7777", "localhost:7777", "1.2.3.4:", "1.2.3.4:x",
        "1.2.3.4:65536", "1.2.3.4:-1", "::1:5", "[::1]", "[::1]5", "[::1:5",
        "1.2.3:80", "[nonsense]:1"}) {
    EXPECT_FALSE(ParseHostPort(bad).ok()) << bad;
  }
}

TEST(FormatAddressTest, PrintsBothFamilies) {
  EXPECT_EQ(FormatAddress(ip::make_address("1.2.3.4"), 5), "1.2.3.4:5");
  EXPECT_EQ(FormatAddress(ip::make_address("::1"), 5), "[::1]:5");
  EXPECT_EQ(FormatAddress(ip::make_address("::ffff:10.0.0.1"), 80),
            "10.0.0.1:80");
}

TEST(AddressBytesTest, IPv4IsWrittenMapped) {
  EXPECT_EQ(AddressBytes(ip::make_address("10.0.0.1")),
            AddressBytes(ip::make_address("::ffff:10.0.0.1")));
  EXPECT_NE(AddressBytes(ip::make_address("10.0.0.1")),
            AddressBytes(ip::make_address("10.0.0.2")));
}

TEST(UdpAddressKeyTest, HashesConsistently) {
  const auto a = UdpAddressKey::From(
      ip::udp::endpoint(ip::make_address("127.0.0.1"), 1000));
  const auto b = UdpAddressKey::From(
      ip::udp::endpoint(ip::make_address("127.0.0.1"), 1001));
  const auto c =
      UdpAddressKey::From(ip::udp::endpoint(ip::make_address("::1"), 1000));
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  EXPECT_TRUE(absl::VerifyTypeImplementsAbslHashCorrectly({a, b, c}));
}

}  // namespace
}  // namespace gss::gateway
