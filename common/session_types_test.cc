#include "common/session_types.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace gss {
namespace {

constexpr uint64_t kSequenceMask = (uint64_t{1} << 40) - 1;

uint64_t SequenceOf(SessionId id) { return (id.value >> 8) & kSequenceMask; }

// A stand-in for an Abseil hash state that records what a type's
// AbslHashValue feeds it. (session_common does not link absl::hash, so the
// tests check the hashed inputs rather than hash values.)
struct RecordingHashState {
  std::vector<uint64_t> values;

  template <typename... Ts>
  static RecordingHashState combine(RecordingHashState state,
                                    const Ts&... values) {
    (state.values.push_back(static_cast<uint64_t>(values)), ...);
    return state;
  }
};

template <typename T>
std::vector<uint64_t> HashedInputs(const T& value) {
  return AbslHashValue(RecordingHashState{}, value).values;
}

// ---------------------------------------------------------------- SessionId

TEST(SessionIdTest, MakePacksTagSequenceAndShardIntoTheirBits) {
  const SessionId id = SessionId::Make(0x1234, 0xabcdef0123, 0x56);
  EXPECT_EQ(id.value, uint64_t{0x1234abcdef012356});
  EXPECT_EQ(id.instance_tag(), 0x1234);
  EXPECT_EQ(SequenceOf(id), uint64_t{0xabcdef0123});
  EXPECT_EQ(id.shard(), 0x56u);
  EXPECT_TRUE(id.valid());
}

TEST(SessionIdTest, AccessorsUnpackExtremeValues) {
  const SessionId max = SessionId::Make(0xffff, kSequenceMask, 0xff);
  EXPECT_EQ(max.value, ~uint64_t{0});
  EXPECT_EQ(max.instance_tag(), 0xffff);
  EXPECT_EQ(max.shard(), 0xffu);
  EXPECT_EQ(SequenceOf(max), kSequenceMask);

  const SessionId only_tag = SessionId::Make(0x8001, 0, 0);
  EXPECT_EQ(only_tag.instance_tag(), 0x8001);
  EXPECT_EQ(only_tag.shard(), 0u);
  EXPECT_EQ(SequenceOf(only_tag), 0u);

  const SessionId only_shard = SessionId::Make(0, 0, 7);
  EXPECT_EQ(only_shard.instance_tag(), 0);
  EXPECT_EQ(only_shard.shard(), 7u);
  EXPECT_EQ(SequenceOf(only_shard), 0u);
}

TEST(SessionIdTest, OversizedFieldsDoNotBleedIntoNeighbours) {
  // A sequence wider than 40 bits must not reach the instance tag, and a
  // shard wider than 8 bits must not reach the sequence.
  const SessionId wide_sequence =
      SessionId::Make(0x0001, (uint64_t{0xff} << 40) | 5, 2);
  EXPECT_EQ(wide_sequence.instance_tag(), 0x0001);
  EXPECT_EQ(SequenceOf(wide_sequence), 5u);
  EXPECT_EQ(wide_sequence.shard(), 2u);

  const SessionId wide_shard = SessionId::Make(0x0001, 5, 0x1ff);
  EXPECT_EQ(wide_shard.instance_tag(), 0x0001);
  EXPECT_EQ(SequenceOf(wide_shard), 5u);
  EXPECT_EQ(wide_shard.shard(), 0xffu);
}

TEST(SessionIdTest, ZeroIsTheOnlyInvalidId) {
  EXPECT_FALSE(SessionId{}.valid());
  EXPECT_FALSE(SessionId::Make(0, 0, 0).valid());
  EXPECT_TRUE(SessionId::Make(0, 0, 1).valid());
  EXPECT_TRUE(SessionId::Make(0, 1, 0).valid());
  EXPECT_TRUE(SessionId::Make(1, 0, 0).valid());
}

TEST(SessionIdTest, IdsOfOneInstanceOrderBySequenceWhateverTheShard) {
  const SessionId first = SessionId::Make(9, 1, 255);
  const SessionId second = SessionId::Make(9, 2, 0);
  const SessionId third = SessionId::Make(9, 3, 17);
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
  EXPECT_GT(third, first);

  std::vector<SessionId> ids = {third, first, second};
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<SessionId>{first, second, third}));
}

TEST(SessionIdTest, EqualityAndHashFollowTheValue) {
  EXPECT_EQ(SessionId::Make(1, 2, 3), SessionId::Make(1, 2, 3));
  EXPECT_NE(SessionId::Make(1, 2, 3), SessionId::Make(1, 2, 4));
  EXPECT_NE(SessionId::Make(1, 2, 3), SessionId::Make(2, 2, 3));
  EXPECT_EQ(HashedInputs(SessionId::Make(1, 2, 3)),
            std::vector<uint64_t>{SessionId::Make(1, 2, 3).value});
  EXPECT_NE(HashedInputs(SessionId::Make(1, 2, 3)),
            HashedInputs(SessionId::Make(1, 2, 4)));
}

TEST(SessionIdTest, ToStringIsSixteenLowerCaseHexDigits) {
  EXPECT_EQ(SessionId::Make(0x1234, 0xabcdef0123, 0x56).ToString(),
            "1234abcdef012356");
  EXPECT_EQ(SessionId::Make(0, 1, 0).ToString(), "0000000000000100");
  EXPECT_EQ(SessionId{}.ToString(), "0000000000000000");
  EXPECT_EQ(SessionId{~uint64_t{0}}.ToString(), "ffffffffffffffff");
}

TEST(SessionIdTest, ParseRoundTripsToString) {
  for (SessionId id :
       {SessionId::Make(0x1234, 0xabcdef0123, 0x56), SessionId::Make(0, 0, 1),
        SessionId::Make(0, 1, 0), SessionId::Make(0xffff, kSequenceMask, 0xff),
        SessionId::Make(0x00a0, 0x0000000001, 0x0b)}) {
    SCOPED_TRACE(id.ToString());
    absl::StatusOr<SessionId> parsed = SessionId::Parse(id.ToString());
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, id);
  }
}

TEST(SessionIdTest, ParseAcceptsUpperCaseHex) {
  absl::StatusOr<SessionId> parsed = SessionId::Parse("1234ABCDEF012356");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, SessionId::Make(0x1234, 0xabcdef0123, 0x56));
}

TEST(SessionIdTest, ParseRejectsBadInput) {
  for (const char* text : {
           "",                   // Empty.
           "1234abcdef01235",    // 15 digits.
           "1234abcdef0123567",  // 17 digits.
           "1234abcdef01235g",   // Not hex.
           "1234abcdef01235 ",   // Trailing space.
           " 234abcdef012356",   // Leading space.
           "0x34abcdef012356",   // Prefix.
           "-234abcdef012356",   // Sign.
           "0000000000000000",   // The invalid id.
       }) {
    SCOPED_TRACE(text);
    absl::StatusOr<SessionId> parsed = SessionId::Parse(text);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

// -------------------------------------------------------------- PeerAddress

TEST(PeerAddressTest, DefaultIsUnknown) {
  const PeerAddress address;
  EXPECT_EQ(address.family, 0);
  EXPECT_EQ(address.ToString(), "unknown");
}

TEST(PeerAddressTest, V4StoresNetworkOrderBytes) {
  const PeerAddress address = PeerAddress::V4(0x01020304, 5);
  EXPECT_EQ(address.family, 4);
  EXPECT_EQ(address.port, 5);
  EXPECT_EQ(address.bytes[0], 1);
  EXPECT_EQ(address.bytes[1], 2);
  EXPECT_EQ(address.bytes[2], 3);
  EXPECT_EQ(address.bytes[3], 4);
  EXPECT_EQ(address.ToString(), "1.2.3.4:5");
}

TEST(PeerAddressTest, ParsesIpv4) {
  absl::StatusOr<PeerAddress> parsed = PeerAddress::Parse("10.0.200.7:65535");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, PeerAddress::V4(0x0a00c807, 65535));
  EXPECT_EQ(parsed->ToString(), "10.0.200.7:65535");
}

TEST(PeerAddressTest, ParsesIpv6) {
  absl::StatusOr<PeerAddress> parsed = PeerAddress::Parse("[::1]:443");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->family, 6);
  EXPECT_EQ(parsed->port, 443);
  for (int i = 0; i < 15; ++i) EXPECT_EQ(parsed->bytes[i], 0) << i;
  EXPECT_EQ(parsed->bytes[15], 1);
  EXPECT_EQ(parsed->ToString(), "[::1]:443");

  parsed = PeerAddress::Parse("[2001:db8::ff00:42:8329]:7777");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->bytes[0], 0x20);
  EXPECT_EQ(parsed->bytes[1], 0x01);
  EXPECT_EQ(parsed->bytes[2], 0x0d);
  EXPECT_EQ(parsed->bytes[3], 0xb8);
  EXPECT_EQ(parsed->bytes[15], 0x29);
  EXPECT_EQ(parsed->port, 7777);
}

TEST(PeerAddressTest, ToStringParseRoundTrip) {
  for (const char* text :
       {"1.2.3.4:5", "0.0.0.0:0", "255.255.255.255:65535", "127.0.0.1:8080",
        "[::1]:5", "[::]:0", "[2001:db8::1]:65535", "[fe80::1:2:3:4]:9",
        "[::ffff:1.2.3.4]:80"}) {
    SCOPED_TRACE(text);
    absl::StatusOr<PeerAddress> parsed = PeerAddress::Parse(text);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->ToString(), text);
    absl::StatusOr<PeerAddress> again = PeerAddress::Parse(parsed->ToString());
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(*again, *parsed);
  }
}

TEST(PeerAddressTest, Ipv6ToStringIsCanonical) {
  absl::StatusOr<PeerAddress> parsed =
      PeerAddress::Parse("[2001:0DB8:0000:0000:0000:0000:0000:0001]:5");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->ToString(), "[2001:db8::1]:5");
}

TEST(PeerAddressTest, ParseRejectsBadPorts) {
  for (const char* text :
       {"1.2.3.4", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:99999999999",
        "1.2.3.4:-1", "1.2.3.4:abc", "1.2.3.4:5x", "1.2.3.4:0x10", "1.2.3.4:+5",
        "1.2.3.4: 5", "1.2.3.4:5 ", "[::1]", "[::1]:", "[::1]5", "[::1]:65536",
        "[::1]:-5", "[::1]:+5"}) {
    SCOPED_TRACE(text);
    absl::StatusOr<PeerAddress> parsed = PeerAddress::Parse(text);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << (parsed.ok() ? parsed->ToString() : "");
  }
}

TEST(PeerAddressTest, ParseRejectsBadHosts) {
  for (const char* text :
       {"", ":5", "1.2.3:5", "1.2.3.4.5:5", "256.1.1.1:5", "a.b.c.d:5",
        "localhost:5", "::1:5", "[]:5", "[1.2.3.4]:5", "[::1::2]:5",
        "[zz::1]:5", "[::1:5", " 1.2.3.4:5"}) {
    SCOPED_TRACE(text);
    absl::StatusOr<PeerAddress> parsed = PeerAddress::Parse(text);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << (parsed.ok() ? parsed->ToString() : "");
  }
}

TEST(PeerAddressTest, ParseRejectsANulInTheHost) {
  using std::string_literals::operator""s;
  for (const std::string& text :
       {"1.2.3.4\0junk:5"s, "1.2.3.4\0:5"s, "[::1\0junk]:5"s, "\0:5"s}) {
    SCOPED_TRACE(absl::CEscape(text));
    absl::StatusOr<PeerAddress> parsed = PeerAddress::Parse(text);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << (parsed.ok() ? parsed->ToString() : "");
  }
}

TEST(PeerAddressTest, EqualityComparesFamilyBytesAndPort) {
  EXPECT_EQ(PeerAddress::V4(0x01020304, 5), PeerAddress::V4(0x01020304, 5));
  EXPECT_NE(PeerAddress::V4(0x01020304, 5), PeerAddress::V4(0x01020304, 6));
  EXPECT_NE(PeerAddress::V4(0x01020304, 5), PeerAddress::V4(0x01020305, 5));
  // Same leading bytes, different family.
  PeerAddress v6 = PeerAddress::V4(0x01020304, 5);
  v6.family = 6;
  EXPECT_NE(v6, PeerAddress::V4(0x01020304, 5));
}

// ----------------------------------------------------------- RemoteIdentity

TEST(RemoteIdentityTest, EqualityIgnoresTheAddress) {
  const RemoteIdentity a{3, 17, PeerAddress::V4(0x01020304, 5)};
  const RemoteIdentity b{3, 17, PeerAddress::V4(0x05060708, 9)};
  const RemoteIdentity no_address{3, 17, PeerAddress{}};
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, no_address);
}

TEST(RemoteIdentityTest, EqualityComparesGatewayAndConnection) {
  const RemoteIdentity a{3, 17, PeerAddress::V4(0x01020304, 5)};
  EXPECT_NE(a, (RemoteIdentity{4, 17, a.address}));
  EXPECT_NE(a, (RemoteIdentity{3, 18, a.address}));
  // The two fields are not interchangeable.
  EXPECT_NE((RemoteIdentity{1, 2, {}}), (RemoteIdentity{2, 1, {}}));
}

TEST(RemoteIdentityTest, HashIgnoresTheAddress) {
  const RemoteIdentity a{3, 17, PeerAddress::V4(0x01020304, 5)};
  const RemoteIdentity b{3, 17, *PeerAddress::Parse("[::1]:6")};
  EXPECT_EQ(HashedInputs(a), (std::vector<uint64_t>{3, 17}));
  EXPECT_EQ(HashedInputs(a), HashedInputs(b));
  EXPECT_EQ(HashedInputs(a), HashedInputs(RemoteIdentity{3, 17, {}}));
}

TEST(RemoteIdentityTest, HashCoversGatewayAndConnection) {
  const RemoteIdentity a{3, 17, PeerAddress::V4(0x01020304, 5)};
  EXPECT_NE(HashedInputs(a), HashedInputs(RemoteIdentity{3, 18, a.address}));
  EXPECT_NE(HashedInputs(a), HashedInputs(RemoteIdentity{4, 17, a.address}));
  EXPECT_NE(HashedInputs(RemoteIdentity{1, 2, {}}),
            HashedInputs(RemoteIdentity{2, 1, {}}));
}

TEST(RemoteIdentityTest, ToStringNamesGatewayConnectionAndAddress) {
  EXPECT_EQ((RemoteIdentity{3, 17, PeerAddress::V4(0x01020304, 5)}).ToString(),
            "gw-3/conn-17 (1.2.3.4:5)");
  EXPECT_EQ((RemoteIdentity{1, 2, PeerAddress{}}).ToString(),
            "gw-1/conn-2 (unknown)");
}

// -------------------------------------------------------------- ResumeToken

ResumeToken SampleToken() {
  ResumeToken token;
  token.session = SessionId::Make(0x1234, 0xabcdef0123, 0x56);
  for (size_t i = 0; i < token.secret.size(); ++i) {
    token.secret[i] = static_cast<uint8_t>(0xf0 + i);  // f0 .. ff
  }
  return token;
}

TEST(ResumeTokenTest, EncodeIsSessionIdThenSecretInLowerCaseHex) {
  const ResumeToken token = SampleToken();
  const std::string encoded = token.Encode();
  EXPECT_EQ(encoded,
            "1234abcdef012356"
            "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
  EXPECT_EQ(encoded.size(), 48u);
  EXPECT_EQ(encoded.substr(0, 16), token.session.ToString());
}

TEST(ResumeTokenTest, ParseRoundTripsEncode) {
  ResumeToken zero_secret;
  zero_secret.session = SessionId::Make(0, 0, 1);
  for (const ResumeToken& token : {SampleToken(), zero_secret}) {
    SCOPED_TRACE(token.Encode());
    absl::StatusOr<ResumeToken> parsed = ResumeToken::Parse(token.Encode());
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, token);
    EXPECT_EQ(parsed->session, token.session);
    EXPECT_TRUE(SecretsEqual(parsed->secret, token.secret));
  }
}

TEST(ResumeTokenTest, ParseAcceptsUpperCaseHex) {
  absl::StatusOr<ResumeToken> parsed =
      ResumeToken::Parse("1234ABCDEF012356F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, SampleToken());
}

TEST(ResumeTokenTest, ParseRejectsBadInput) {
  const std::string good = SampleToken().Encode();
  std::string non_hex = good;
  non_hex[30] = 'x';
  std::string non_hex_in_id = good;
  non_hex_in_id[3] = ':';
  const std::vector<std::string> bad = {
      "",
      good.substr(0, 47),  // One digit short.
      good + "0",          // One digit long.
      good.substr(0, 16),  // A bare session id.
      non_hex,
      non_hex_in_id,
      std::string(16, '0') + good.substr(16),  // Names no session.
      std::string(48, '0'),
  };
  for (const std::string& text : bad) {
    SCOPED_TRACE(text);
    EXPECT_EQ(ResumeToken::Parse(text).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(ResumeTokenTest, EqualityComparesSessionAndSecret) {
  const ResumeToken token = SampleToken();
  ResumeToken other_secret = token;
  other_secret.secret[15] ^= 1;
  ResumeToken other_session = token;
  other_session.session = SessionId::Make(0x1234, 0xabcdef0124, 0x56);
  EXPECT_EQ(token, SampleToken());
  EXPECT_NE(token, other_secret);
  EXPECT_NE(token, other_session);
}

// ------------------------------------------------------------ SecretsEqual

TEST(SecretsEqualTest, EqualSecretsCompareEqual) {
  const ResumeSecret zero{};
  EXPECT_TRUE(SecretsEqual(zero, zero));
  const ResumeSecret sample = SampleToken().secret;
  ResumeSecret copy = sample;
  EXPECT_TRUE(SecretsEqual(sample, copy));
}

TEST(SecretsEqualTest, AnySingleBitDifferenceIsDetected) {
  const ResumeSecret base = SampleToken().secret;
  for (size_t byte = 0; byte < base.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      ResumeSecret changed = base;
      changed[byte] ^= static_cast<uint8_t>(1u << bit);
      EXPECT_FALSE(SecretsEqual(base, changed)) << byte << "/" << bit;
      EXPECT_FALSE(SecretsEqual(changed, base)) << byte << "/" << bit;
    }
  }
}

TEST(SecretsEqualTest, DifferencesThatCancelUnderXorSumAreStillDetected) {
  // Two bytes that differ by the same bits must not mask each other.
  ResumeSecret a{};
  ResumeSecret b{};
  a[0] = 0x01;
  b[1] = 0x01;
  EXPECT_FALSE(SecretsEqual(a, b));
  ResumeSecret c{};
  c.fill(0xff);
  EXPECT_FALSE(SecretsEqual(ResumeSecret{}, c));
}

}  // namespace
}  // namespace gss
