// The round trip a heartbeat measures: a Ping echoes the server time of the
// previous Pong and how long the client held it, so whoever answers pings
// (the service, or a gateway at the edge) computes the same figure.
#ifndef COMMON_ROUND_TRIP_H_
#define COMMON_ROUND_TRIP_H_

#include <cstdint>
#include <optional>

#include "absl/time/time.h"

namespace gss {

// Longer round trips are taken for a client's clock or counter gone wrong.
inline constexpr absl::Duration kMaxPlausibleRtt = absl::Seconds(60);

// now - echo_server_time - echo_hold, all in microseconds of the answering
// side's clock (echo_hold is the client's). Nullopt when the Ping echoed
// nothing (a first Ping), or the figures are impossible or implausible; any
// values a client may send are handled without overflow.
std::optional<absl::Duration> RoundTripFromEcho(int64_t now_us,
                                                int64_t echo_server_time_us,
                                                int64_t echo_hold_us);

}  // namespace gss

#endif  // COMMON_ROUND_TRIP_H_
