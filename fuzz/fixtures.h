// The fixed keys, clocks and sessions the fuzz targets check inputs against,
// shared with the seed generator so the corpus holds inputs that pass them.
#ifndef FUZZ_FIXTURES_H_
#define FUZZ_FIXTURES_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/multi_session_manager.h"
#include "common/session_types.h"

namespace gss::fuzz {

// udp_datagram_fuzzer: the gateway's cookie secret and clock, and the sender
// every datagram is taken to come from (192.0.2.1:40000, IPv4-mapped).
inline constexpr uint64_t kCookieNowMs = 1'700'000'000'000;
inline constexpr uint64_t kCookieLifetimeMs = 5'000;
inline constexpr std::array<uint8_t, 16> kSenderAddress = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
inline constexpr uint16_t kSenderPort = 40000;
inline std::array<uint8_t, 32> CookieSecret() {
  std::array<uint8_t, 32> secret{};
  for (size_t i = 0; i < secret.size(); ++i) {
    secret[i] = static_cast<uint8_t>(i * 7 + 1);
  }
  return secret;
}

// jwt_login_fuzzer: the service's HS256 key, another key, and the time.
inline constexpr absl::string_view kJwtKey =
    "fuzz-key-0123456789abcdef-0123456789";
inline constexpr absl::string_view kOtherJwtKey =
    "other-key-0123456789abcdef-012345678";
inline constexpr int64_t kJwtNowSeconds = 1'700'000'000;

// session_token_fuzzer: the session a resume token tries to take back: one
// player logged in, transport lost, held in Reconnecting.
struct ResumeFixture {
  ManualClock clock{absl::FromUnixSeconds(1'700'000'000)};
  std::unique_ptr<MultiSessionManager> sessions;
  RemoteIdentity old_remote{3, 100, PeerAddress::V4(0xc0000201, 4000)};
  RemoteIdentity new_remote{3, 101, PeerAddress::V4(0xc0000202, 4000)};
  ResumeToken token;  // The one token that resumes the session.

  // Null when the manager refuses the set-up (a bug the target reports).
  static std::unique_ptr<ResumeFixture> Make() {
    auto fixture = std::make_unique<ResumeFixture>();
    MultiSessionOptions options;
    // One shard: the session id, and so the token, is the same in every
    // process (shards are picked by a per-process hash).
    options.shard_count = 1;
    options.timer_slots = 64;
    auto sessions = MultiSessionManager::Create(options, fixture->clock);
    if (!sessions.ok()) return nullptr;
    fixture->sessions = *std::move(sessions);
    MultiSessionManager& manager = *fixture->sessions;
    if (!manager.OnTransportConnected(fixture->old_remote).ok()) return nullptr;
    PlayerGrant grant;
    grant.player_id = "player-1";
    ResumeSecret secret;
    for (size_t i = 0; i < secret.size(); ++i) {
      secret[i] = static_cast<uint8_t>(0xa0 + i);
    }
    auto login = manager.Login(fixture->old_remote, grant, secret);
    if (!login.ok()) return nullptr;
    fixture->token = login->resume_token;
    if (!manager.OnTransportClosed(fixture->old_remote, false).ok() ||
        !manager.OnTransportConnected(fixture->new_remote).ok()) {
      return nullptr;
    }
    return fixture;
  }
};

}  // namespace gss::fuzz

#endif  // FUZZ_FIXTURES_H_
