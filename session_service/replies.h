// The game messages the service sends, built from the core's outcomes: pure
// functions, no state, no I/O. The host decides when to send which; these
// decide only what each one says (and, for a refused login, how much of it
// fits the request's size).
#ifndef SESSION_SERVICE_REPLIES_H_
#define SESSION_SERVICE_REPLIES_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "common/gameplay_rules.h"
#include "common/session_types.h"
#include "gss/game/v1/game.pb.h"
#include "session_service/refusals.h"

namespace gss {

// The world as a Welcome describes it.
game::v1::WorldConfig WorldConfigMessage(const WorldConfig& world);

// Adds the names of the permission bits ("move", "shoot") to `out`.
void AddPermissionNames(uint32_t permissions,
                        google::protobuf::RepeatedPtrField<std::string>* out);

// Everything a Welcome says about the session it opens or resumes.
struct WelcomeFacts {
  SessionId session;
  ResumeToken resume_token;
  GridPosition position;
  int32_t health = 0;
  std::string player_id;
  std::string display_name;
  std::string role;
  uint32_t permissions = 0;
  int64_t server_tick = 0;
  // A fresh login's spawn counts as a move at its tick: equal to
  // server_tick. A resume carries the session's own.
  int64_t last_move_tick = 0;
  bool resumed = false;
};
game::v1::ServerMessage WelcomeMessage(const WelcomeFacts& facts,
                                       const game::v1::WorldConfig& world,
                                       const game::v1::ServerInfo& server);

// A LoginRejected never larger than the `request_bytes` of the
// ClientMessage that carried the Login, so that logins cannot amplify a
// flood (at capacity every login is refused): the detail is dropped first,
// then the server info. nullopt when even the reason does not fit (the
// connection is closed without a message).
std::optional<game::v1::ServerMessage> LoginRejectedMessage(
    LoginRefusal reason, std::string detail, const game::v1::ServerInfo& server,
    size_t request_bytes);

// The resume failed; the connection stays open for a Login.
game::v1::ServerMessage ResumeRejectedMessage(
    ResumeRefusal reason, const game::v1::ServerInfo& server);

// What precedes a close the service decides (evicted, replaced, ...), or
// tells a connection that stays open (session_unknown).
game::v1::ServerMessage DisconnectMessage(DisconnectReason reason,
                                          std::string detail);

game::v1::ServerMessage InputRejectedMessage(absl::string_view reason,
                                             std::string detail);

game::v1::ServerMessage PongMessage(int64_t client_time_us,
                                    int64_t server_time_us);

// The answer to `move`, whatever the rules decided: the position is
// authoritative either way.
game::v1::ServerMessage MoveResultMessage(const game::v1::MoveInput& move,
                                          const MoveResult& result);
game::v1::ServerMessage ShootResultMessage(const game::v1::ShootInput& shoot,
                                           const ShootResult& result);
// To the target of an accepted shot; `tick` is the shot's.
game::v1::ServerMessage HitReceivedMessage(SessionId shooter, int64_t tick,
                                           int32_t health);

}  // namespace gss

#endif  // SESSION_SERVICE_REPLIES_H_
