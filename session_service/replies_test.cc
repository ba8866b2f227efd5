#include "session_service/replies.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace gss {
namespace {

using game::v1::ServerMessage;

game::v1::ServerInfo Server() {
  game::v1::ServerInfo server;
  server.set_instance_id("0123456789abcdef0123456789abcdef");
  server.set_version("1.2.3");
  return server;
}

TEST(WelcomeMessageTest, SaysEverythingItIsGiven) {
  WelcomeFacts facts;
  ASSERT_TRUE(SessionId::Parse("0001000000000042").ok());
  facts.session = *SessionId::Parse("0001000000000042");
  facts.position = {3, 4};
  facts.health = 80;
  facts.player_id = "p-1";
  facts.display_name = "Alice";
  facts.role = "scout";
  facts.permissions = kPermissionMove;
  facts.server_tick = 120;
  facts.last_move_tick = 117;
  facts.resumed = true;
  WorldConfig world;
  world.grid_size = 32;
  world.movement_tick = absl::Milliseconds(50);
  world.movement_max_steps_per_tick = 2;
  const ServerMessage message =
      WelcomeMessage(facts, WorldConfigMessage(world), Server());
  ASSERT_TRUE(message.has_welcome());
  const game::v1::Welcome& welcome = message.welcome();
  EXPECT_EQ(welcome.session_id(), "0001000000000042");
  EXPECT_EQ(welcome.resume_token(), facts.resume_token.Encode());
  EXPECT_EQ(welcome.world_config().grid_size(), 32);
  EXPECT_EQ(welcome.world_config().movement_tick_ms(), 50);
  EXPECT_EQ(welcome.world_config().movement_max_steps_per_tick(), 2);
  EXPECT_EQ(welcome.server_info().version(), "1.2.3");
  EXPECT_EQ(welcome.position().x(), 3);
  EXPECT_EQ(welcome.position().y(), 4);
  EXPECT_EQ(welcome.health(), 80);
  EXPECT_EQ(welcome.player_id(), "p-1");
  EXPECT_EQ(welcome.display_name(), "Alice");
  EXPECT_EQ(welcome.role(), "scout");
  EXPECT_EQ(std::vector<std::string>(welcome.permissions().begin(),
                                     welcome.permissions().end()),
            std::vector<std::string>{"move"});
  EXPECT_EQ(welcome.server_tick(), 120);
  EXPECT_EQ(welcome.last_move_tick(), 117);
  EXPECT_TRUE(welcome.resumed());
}

TEST(LoginRejectedMessageTest, FitsTheRequestByDroppingDetailThenServerInfo) {
  const std::string detail(100, 'd');
  std::optional<ServerMessage> whole =
      LoginRejectedMessage(LoginRefusal::kServerFull, detail, Server(), 1000);
  ASSERT_TRUE(whole.has_value());
  EXPECT_EQ(whole->login_rejected().reason(), "server_full");
  EXPECT_EQ(whole->login_rejected().detail(), detail);
  EXPECT_TRUE(whole->login_rejected().has_server_info());
  const size_t whole_size = whole->ByteSizeLong();

  std::optional<ServerMessage> no_detail = LoginRejectedMessage(
      LoginRefusal::kServerFull, detail, Server(), whole_size - 1);
  ASSERT_TRUE(no_detail.has_value());
  EXPECT_TRUE(no_detail->login_rejected().detail().empty());
  EXPECT_TRUE(no_detail->login_rejected().has_server_info());
  EXPECT_LE(no_detail->ByteSizeLong(), whole_size - 1);

  std::optional<ServerMessage> reason_only =
      LoginRejectedMessage(LoginRefusal::kServerFull, detail, Server(),
                           no_detail->ByteSizeLong() - 1);
  ASSERT_TRUE(reason_only.has_value());
  EXPECT_EQ(reason_only->login_rejected().reason(), "server_full");
  EXPECT_FALSE(reason_only->login_rejected().has_server_info());

  EXPECT_EQ(LoginRejectedMessage(LoginRefusal::kServerFull, detail, Server(),
                                 reason_only->ByteSizeLong() - 1),
            std::nullopt);
  EXPECT_EQ(
      LoginRejectedMessage(LoginRefusal::kServerFull, detail, Server(), 0),
      std::nullopt);
}

TEST(MoveResultMessageTest, CarriesThePositionWhetherAcceptedOrNot) {
  game::v1::MoveInput move;
  move.set_tick(9);
  MoveResult accepted{
      .rejection = InputRejection::kNone, .position = {5, 6}, .clamped = true};
  ServerMessage yes = MoveResultMessage(move, accepted);
  EXPECT_EQ(yes.move_result().tick(), 9);
  EXPECT_TRUE(yes.move_result().accepted());
  EXPECT_TRUE(yes.move_result().rejection().empty());
  EXPECT_EQ(yes.move_result().position().x(), 5);
  EXPECT_TRUE(yes.move_result().clamped());
  MoveResult refused{.rejection = InputRejection::kStaleTick,
                     .position = {1, 2}};
  ServerMessage no = MoveResultMessage(move, refused);
  EXPECT_FALSE(no.move_result().accepted());
  EXPECT_EQ(no.move_result().rejection(), "stale_tick");
  EXPECT_EQ(no.move_result().position().y(), 2);
}

TEST(ShootAndHitMessagesTest, NameTheTargetAndTheShotsTick) {
  game::v1::ShootInput shoot;
  shoot.set_tick(40);
  shoot.set_target_session_id("not-an-id");
  ShootResult refused{.rejection = InputRejection::kUnknownTarget};
  ServerMessage result = ShootResultMessage(shoot, refused);
  EXPECT_EQ(result.shoot_result().tick(), 40);
  EXPECT_EQ(result.shoot_result().target_session_id(), "not-an-id");
  EXPECT_EQ(result.shoot_result().rejection(), "unknown_target");
  ServerMessage hit =
      HitReceivedMessage(*SessionId::Parse("0001000000000007"), 40, 60);
  EXPECT_EQ(hit.hit_received().shooter_session_id(), "0001000000000007");
  EXPECT_EQ(hit.hit_received().tick(), 40);
  EXPECT_EQ(hit.hit_received().health(), 60);
}

}  // namespace
}  // namespace gss
