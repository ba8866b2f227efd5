#include "common/round_trip.h"

namespace gss {

std::optional<absl::Duration> RoundTripFromEcho(int64_t now_us,
                                                int64_t echo_server_time_us,
                                                int64_t echo_hold_us) {
  if (echo_server_time_us <= 0 || echo_hold_us < 0 ||
      now_us < echo_server_time_us) {
    return std::nullopt;
  }
  // Both non-negative differences of non-negative values: no overflow.
  const int64_t since_pong = now_us - echo_server_time_us;
  if (since_pong < echo_hold_us) return std::nullopt;
  const absl::Duration rtt = absl::Microseconds(since_pong - echo_hold_us);
  if (rtt > kMaxPlausibleRtt) return std::nullopt;
  return rtt;
}

}  // namespace gss
