// Stateless UDP challenge cookies: mint and verify an HMAC-SHA256 tag over a
// client's address, port, nonce and issue time. Pure given the secret and now.
#ifndef GATEWAY_COOKIE_H_
#define GATEWAY_COOKIE_H_

#include <array>
#include <cstdint>

#include "absl/status/status.h"
#include "common/wire_format.h"

namespace gss::gateway {

inline constexpr size_t kCookieSecretSize = 32;
using CookieSecret = std::array<uint8_t, kCookieSecretSize>;
using Cookie = std::array<uint8_t, wire::kCookieSize>;

// What a cookie binds together. The address is 16 bytes: an IPv4 address is
// written IPv4-mapped (::ffff:a.b.c.d) so both families share one layout.
struct CookieInput {
  std::array<uint8_t, 16> address{};
  uint16_t port = 0;
  uint64_t nonce = 0;
  uint64_t issued_at_ms = 0;
};

// Mints and verifies cookies with one secret. Holds no per-client state, so
// a flood of handshakes from spoofed addresses allocates nothing. Thread-safe
// (immutable after construction).
class CookieAuthority {
 public:
  // `lifetime_ms`: how long after issued_at_ms a cookie is still accepted.
  CookieAuthority(const CookieSecret& secret, uint64_t lifetime_ms)
      : secret_(secret), lifetime_ms_(lifetime_ms) {}

  // A secret from the OS's CSPRNG (OpenSSL RAND_bytes), made once per process
  // so cookies die with the process that issued them.
  static CookieSecret RandomSecret();

  Cookie Mint(const CookieInput& input) const;

  // OK when `cookie` was minted by this authority for exactly `input` and is
  // younger than the lifetime at `now_ms`. DeadlineExceeded when it expired;
  // InvalidArgument when it does not match or claims a time in the future.
  // The cheap time checks come first, so stale floods cost no HMAC.
  absl::Status Verify(const CookieInput& input, const Cookie& cookie,
                      uint64_t now_ms) const;

  uint64_t lifetime_ms() const { return lifetime_ms_; }

 private:
  const CookieSecret secret_;
  const uint64_t lifetime_ms_;
};

}  // namespace gss::gateway

#endif  // GATEWAY_COOKIE_H_
