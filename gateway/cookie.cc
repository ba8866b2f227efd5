#include "gateway/cookie.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <iostream>

namespace gss::gateway {
namespace {

void PutBigEndian(uint64_t value, int bytes, uint8_t* out) {
  for (int i = bytes - 1; i >= 0; --i) {
    out[i] = static_cast<uint8_t>(value & 0xff);
    value >>= 8;
  }
}

}  // namespace

CookieSecret CookieAuthority::RandomSecret() {
  CookieSecret secret{};
  if (RAND_bytes(secret.data(), static_cast<int>(secret.size())) != 1) {
    // Without entropy every cookie would be forgeable: refuse to run.
    std::cerr << "gateway: RAND_bytes failed; cannot make a cookie secret\n";
    std::abort();
  }
  return secret;
}

Cookie CookieAuthority::Mint(const CookieInput& input) const {
  // address(16) | port(2) | nonce(8) | issued_at_ms(8), big-endian.
  std::array<uint8_t, 16 + 2 + 8 + 8> message{};
  std::copy(input.address.begin(), input.address.end(), message.begin());
  PutBigEndian(input.port, 2, message.data() + 16);
  PutBigEndian(input.nonce, 8, message.data() + 18);
  PutBigEndian(input.issued_at_ms, 8, message.data() + 26);

  std::array<uint8_t, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_size = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       message.data(), message.size(), digest.data(), &digest_size);
  Cookie cookie{};
  std::copy(digest.begin(), digest.begin() + cookie.size(), cookie.begin());
  return cookie;
}

absl::Status CookieAuthority::Verify(const CookieInput& input,
                                     const Cookie& cookie,
                                     uint64_t now_ms) const {
  if (input.issued_at_ms > now_ms) {
    return absl::InvalidArgumentError("cookie issued in the future");
  }
  if (now_ms - input.issued_at_ms >= lifetime_ms_) {
    return absl::DeadlineExceededError("cookie expired");
  }
  const Cookie expected = Mint(input);
  // Constant time, so the comparison leaks nothing about the right tag.
  if (CRYPTO_memcmp(expected.data(), cookie.data(), cookie.size()) != 0) {
    return absl::InvalidArgumentError("cookie does not match");
  }
  return absl::OkStatus();
}

}  // namespace gss::gateway
