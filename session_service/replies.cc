#include "session_service/replies.h"

#include <utility>

namespace gss {

using game::v1::ServerMessage;

game::v1::WorldConfig WorldConfigMessage(const WorldConfig& world) {
  game::v1::WorldConfig config;
  config.set_grid_size(world.grid_size);
  config.set_movement_tick_ms(
      static_cast<int32_t>(absl::ToInt64Milliseconds(world.movement_tick)));
  config.set_movement_max_steps_per_tick(world.movement_max_steps_per_tick);
  return config;
}

void AddPermissionNames(uint32_t permissions,
                        google::protobuf::RepeatedPtrField<std::string>* out) {
  if (permissions & kPermissionMove) out->Add("move");
  if (permissions & kPermissionShoot) out->Add("shoot");
}

ServerMessage WelcomeMessage(const WelcomeFacts& facts,
                             const game::v1::WorldConfig& world,
                             const game::v1::ServerInfo& server) {
  ServerMessage message;
  game::v1::Welcome* welcome = message.mutable_welcome();
  welcome->set_session_id(facts.session.ToString());
  welcome->set_resume_token(facts.resume_token.Encode());
  *welcome->mutable_world_config() = world;
  *welcome->mutable_server_info() = server;
  welcome->mutable_position()->set_x(facts.position.x);
  welcome->mutable_position()->set_y(facts.position.y);
  welcome->set_health(facts.health);
  welcome->set_player_id(facts.player_id);
  welcome->set_display_name(facts.display_name);
  welcome->set_role(facts.role);
  AddPermissionNames(facts.permissions, welcome->mutable_permissions());
  welcome->set_server_tick(facts.server_tick);
  welcome->set_last_move_tick(facts.last_move_tick);
  welcome->set_resumed(facts.resumed);
  return message;
}

std::optional<ServerMessage> LoginRejectedMessage(
    LoginRefusal reason, std::string detail, const game::v1::ServerInfo& server,
    size_t request_bytes) {
  ServerMessage message;
  game::v1::LoginRejected* rejected = message.mutable_login_rejected();
  rejected->set_reason(std::string(LoginRefusalName(reason)));
  rejected->set_detail(std::move(detail));
  *rejected->mutable_server_info() = server;
  if (message.ByteSizeLong() > request_bytes) rejected->clear_detail();
  if (message.ByteSizeLong() > request_bytes) rejected->clear_server_info();
  if (message.ByteSizeLong() > request_bytes) return std::nullopt;
  return message;
}

ServerMessage ResumeRejectedMessage(ResumeRefusal reason,
                                    const game::v1::ServerInfo& server) {
  ServerMessage message;
  message.mutable_resume_rejected()->set_reason(
      std::string(ResumeRefusalName(reason)));
  *message.mutable_resume_rejected()->mutable_server_info() = server;
  return message;
}

ServerMessage DisconnectMessage(DisconnectReason reason, std::string detail) {
  ServerMessage message;
  game::v1::Disconnect* disconnect = message.mutable_disconnect();
  disconnect->set_reason(std::string(DisconnectReasonName(reason)));
  disconnect->set_detail(std::move(detail));
  return message;
}

ServerMessage InputRejectedMessage(absl::string_view reason,
                                   std::string detail) {
  ServerMessage message;
  message.mutable_input_rejected()->set_reason(std::string(reason));
  message.mutable_input_rejected()->set_detail(std::move(detail));
  return message;
}

ServerMessage PongMessage(int64_t client_time_us, int64_t server_time_us) {
  ServerMessage message;
  message.mutable_pong()->set_client_time_us(client_time_us);
  message.mutable_pong()->set_server_time_us(server_time_us);
  return message;
}

ServerMessage MoveResultMessage(const game::v1::MoveInput& move,
                                const MoveResult& result) {
  ServerMessage message;
  game::v1::MoveResult* out = message.mutable_move_result();
  out->set_tick(move.tick());
  out->set_accepted(result.accepted());
  if (!result.accepted()) {
    out->set_rejection(std::string(InputRejectionName(result.rejection)));
  }
  out->mutable_position()->set_x(result.position.x);
  out->mutable_position()->set_y(result.position.y);
  out->set_clamped(result.clamped);
  return message;
}

ServerMessage ShootResultMessage(const game::v1::ShootInput& shoot,
                                 const ShootResult& result) {
  ServerMessage message;
  game::v1::ShootResult* out = message.mutable_shoot_result();
  out->set_tick(shoot.tick());
  out->set_accepted(result.accepted());
  if (!result.accepted()) {
    out->set_rejection(std::string(InputRejectionName(result.rejection)));
  }
  out->set_target_session_id(shoot.target_session_id());
  out->set_target_health(result.target_health);
  return message;
}

ServerMessage HitReceivedMessage(SessionId shooter, int64_t tick,
                                 int32_t health) {
  ServerMessage message;
  game::v1::HitReceived* received = message.mutable_hit_received();
  received->set_shooter_session_id(shooter.ToString());
  received->set_tick(tick);
  received->set_health(health);
  return message;
}

}  // namespace gss
