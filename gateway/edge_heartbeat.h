// Heartbeats answered at the edge: recognises a game Ping among a peer's
// messages and builds the Pong the service would send, so that an idle
// session's heartbeat costs one message each way and a line in a report.
#ifndef GATEWAY_EDGE_HEARTBEAT_H_
#define GATEWAY_EDGE_HEARTBEAT_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace gss::gateway {

// ClientMessage field 3 (ping), length-delimited. Clients put the body
// first, so a message that starts otherwise is not a lone Ping.
inline constexpr char kPingTag = (3 << 3) | 2;

// A one-byte test that lets every other message skip the parse and the
// clock read.
inline bool MayBePing(absl::string_view message) {
  return !message.empty() && message[0] == kPingTag;
}

struct EdgePong {
  std::string pong;  // A serialized gss.game.v1.ServerMessage with a Pong.
  // From the Ping's echo of an earlier Pong (common/round_trip.h).
  std::optional<absl::Duration> rtt;
};

// Nullopt unless `message` parses as a gss.game.v1.ClientMessage whose body
// is a Ping: anything else, malformed input included, goes to the service,
// which alone answers it. `now_us`: Unix microseconds, the Pong's
// server_time_us.
std::optional<EdgePong> AnswerPing(absl::string_view message, int64_t now_us);

}  // namespace gss::gateway

#endif  // GATEWAY_EDGE_HEARTBEAT_H_
