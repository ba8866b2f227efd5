// Tests of the stateless challenge cookie: valid, expired, from the future,
// bound to address, port, nonce and time, tamper-evident, keyed by secret.
#include "gateway/cookie.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "gtest/gtest.h"

namespace gss::gateway {
namespace {

constexpr uint64_t kLifetimeMs = 10'000;

CookieSecret FixedSecret(uint8_t seed) {
  CookieSecret secret{};
  for (size_t i = 0; i < secret.size(); ++i) secret[i] = seed + i;
  return secret;
}

CookieInput SampleInput() {
  CookieInput input;
  input.address = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
  input.port = 40000;
  input.nonce = 0x1122334455667788;
  input.issued_at_ms = 5'000'000;
  return input;
}

TEST(CookieTest, FreshCookieVerifies) {
  CookieAuthority authority(FixedSecret(1), kLifetimeMs);
  const CookieInput input = SampleInput();
  const Cookie cookie = authority.Mint(input);
  EXPECT_TRUE(authority.Verify(input, cookie, input.issued_at_ms).ok());
  EXPECT_TRUE(authority.Verify(input, cookie, input.issued_at_ms + 1).ok());
  EXPECT_TRUE(
      authority.Verify(input, cookie, input.issued_at_ms + kLifetimeMs - 1)
          .ok());
}

TEST(CookieTest, MintIsDeterministicForOneSecret) {
  CookieAuthority authority(FixedSecret(1), kLifetimeMs);
  EXPECT_EQ(authority.Mint(SampleInput()), authority.Mint(SampleInput()));
}

TEST(CookieTest, MatchesTheDocumentedHmacLayout) {
  // HMAC-SHA256(secret, address16 | port16 | nonce64 | issued_at64), all
  // big-endian, truncated to 16 bytes.
  const CookieSecret secret = FixedSecret(9);
  const CookieInput input = SampleInput();
  std::vector<uint8_t> message(input.address.begin(), input.address.end());
  message.push_back(input.port >> 8);
  message.push_back(input.port & 0xff);
  for (int shift = 56; shift >= 0; shift -= 8) {
    message.push_back((input.nonce >> shift) & 0xff);
  }
  for (int shift = 56; shift >= 0; shift -= 8) {
    message.push_back((input.issued_at_ms >> shift) & 0xff);
  }
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), secret.data(), secret.size(), message.data(),
       message.size(), digest, &size);
  ASSERT_EQ(size, 32u);
  Cookie expected{};
  std::copy(digest, digest + expected.size(), expected.begin());
  EXPECT_EQ(CookieAuthority(secret, kLifetimeMs).Mint(input), expected);
}

TEST(CookieTest, ExpiredCookieIsRefused) {
  CookieAuthority authority(FixedSecret(1), kLifetimeMs);
  const CookieInput input = SampleInput();
  const Cookie cookie = authority.Mint(input);
  EXPECT_EQ(
      authority.Verify(input, cookie, input.issued_at_ms + kLifetimeMs).code(),
      absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(
      authority.Verify(input, cookie, input.issued_at_ms + 10 * kLifetimeMs)
          .code(),
      absl::StatusCode::kDeadlineExceeded);
}

TEST(CookieTest, CookieFromTheFutureIsRefused) {
  CookieAuthority authority(FixedSecret(1), kLifetimeMs);
  const CookieInput input = SampleInput();
  const Cookie cookie = authority.Mint(input);
  EXPECT_EQ(authority.Verify(input, cookie, input.issued_at_ms - 1).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CookieTest, WrongAddressPortOrNonceIsRefused) {
  CookieAuthority authority(FixedSecret(1), kLifetimeMs);
  const CookieInput input = SampleInput();
  const Cookie cookie = authority.Mint(input);
  const uint64_t now = input.issued_at_ms + 1;

  CookieInput other_address = input;
  other_address.address[15] = 2;
  EXPECT_EQ(authority.Verify(other_address, cookie, now).code(),
            absl::StatusCode::kInvalidArgument);

  CookieInput other_port = input;
  other_port.port = 40001;
  EXPECT_EQ(authority.Verify(other_port, cookie, now).code(),
            absl::StatusCode::kInvalidArgument);

  CookieInput other_nonce = input;
  other_nonce.nonce ^= 1;
  EXPECT_EQ(authority.Verify(other_nonce, cookie, now).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CookieTest, TamperedCookieOrTimeIsRefused) {
  CookieAuthority authority(FixedSecret(1), kLifetimeMs);
  const CookieInput input = SampleInput();
  const Cookie cookie = authority.Mint(input);
  const uint64_t now = input.issued_at_ms + 1;
  for (size_t i = 0; i < cookie.size(); ++i) {
    for (uint8_t bit : {0x01, 0x80}) {
      Cookie tampered = cookie;
      tampered[i] ^= bit;
      EXPECT_EQ(authority.Verify(input, tampered, now).code(),
                absl::StatusCode::kInvalidArgument)
          << "byte " << i;
    }
  }
  // Moving issued_at later to stretch the lifetime breaks the tag.
  CookieInput later = input;
  later.issued_at_ms += 1;
  EXPECT_EQ(authority.Verify(later, cookie, now).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CookieTest, AnotherSecretDoesNotVerify) {
  CookieAuthority minting(FixedSecret(1), kLifetimeMs);
  CookieAuthority verifying(FixedSecret(2), kLifetimeMs);
  const CookieInput input = SampleInput();
  EXPECT_EQ(
      verifying.Verify(input, minting.Mint(input), input.issued_at_ms).code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(CookieTest, RandomSecretsDiffer) {
  EXPECT_NE(CookieAuthority::RandomSecret(), CookieAuthority::RandomSecret());
}

}  // namespace
}  // namespace gss::gateway
