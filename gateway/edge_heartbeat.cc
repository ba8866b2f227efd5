#include "gateway/edge_heartbeat.h"

#include "common/round_trip.h"
#include "gss/game/v1/game.pb.h"

namespace gss::gateway {

std::optional<EdgePong> AnswerPing(absl::string_view message, int64_t now_us) {
  if (!MayBePing(message)) return std::nullopt;
  game::v1::ClientMessage parsed;
  if (!parsed.ParseFromArray(message.data(),
                             static_cast<int>(message.size())) ||
      parsed.body_case() != game::v1::ClientMessage::kPing) {
    return std::nullopt;
  }
  const game::v1::Ping& ping = parsed.ping();
  game::v1::ServerMessage reply;
  reply.mutable_pong()->set_client_time_us(ping.client_time_us());
  reply.mutable_pong()->set_server_time_us(now_us);
  return EdgePong{
      .pong = reply.SerializeAsString(),
      .rtt = RoundTripFromEcho(now_us, ping.echo_server_time_us(),
                               ping.echo_hold_us()),
  };
}

}  // namespace gss::gateway
