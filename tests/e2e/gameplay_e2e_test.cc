// End-to-end: MoveInput and ShootInput are validated per peer (ticks,
// steps, cooldown, targets) and a hit is reported to its target.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/cluster.h"
#include "tests/support/game_test_client.h"
#include "tests/support/ops_client.h"
#include "tests/support/test_macros.h"

namespace gss::testing {
namespace {

using game::v1::MoveResult;
using game::v1::ServerMessage;
using game::v1::ShootResult;
using game::v1::Welcome;

// 100 ms ticks leave room for scheduling; lag window 9 ticks + 4 ahead + 2
// fits the 16-position history. A 10 s cooldown makes every second shot of a
// peer a cooldown rejection; range covers the whole grid.
ClusterOptions GameplayOptions() {
  ClusterOptions options;
  options.service_flags = {"--grid_size=64",
                           "--movement_tick=100ms",
                           "--movement_max_steps_per_tick=1",
                           "--max_ticks_ahead=4",
                           "--max_step_credit_ticks=10",
                           "--max_rewind=900ms",
                           "--fire_cooldown=10s",
                           "--shot_range=100",
                           "--shot_damage=20",
                           "--max_health=100"};
  return options;
}

class GameplayTest : public ::testing::TestWithParam<Transport> {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(cluster_, Cluster::Start(GameplayOptions()));
  }

  // Connects and logs in `name`.
  std::unique_ptr<GameTestClient> Join(const std::string& name) {
    auto client = GameTestClient::Connect(GetParam(), cluster_->game_port());
    EXPECT_TRUE(client.ok()) << client.status();
    if (!client.ok()) return nullptr;
    absl::StatusOr<Welcome> welcome = (*client)->Login(name);
    EXPECT_TRUE(welcome.ok()) << welcome.status();
    if (!welcome.ok()) return nullptr;
    return *std::move(client);
  }

  std::unique_ptr<Cluster> cluster_;
};

TEST_P(GameplayTest, WelcomeCarriesTheConfiguredWorld) {
  std::unique_ptr<GameTestClient> peer = Join("alice");
  ASSERT_NE(peer, nullptr);
  const Welcome& welcome = peer->welcome();
  EXPECT_EQ(welcome.world_config().grid_size(), 64);
  EXPECT_EQ(welcome.world_config().movement_tick_ms(), 100);
  EXPECT_EQ(welcome.world_config().movement_max_steps_per_tick(), 1);
  EXPECT_EQ(welcome.health(), 100);
  EXPECT_FALSE(welcome.resumed());
  EXPECT_EQ(welcome.display_name(), "alice");
  EXPECT_EQ(welcome.session_id().size(), 16u);
  EXPECT_FALSE(welcome.resume_token().empty());
  EXPECT_FALSE(welcome.server_info().instance_id().empty());
  EXPECT_GE(welcome.position().x(), 0);
  EXPECT_LT(welcome.position().x(), 64);
  EXPECT_GE(welcome.position().y(), 0);
  EXPECT_LT(welcome.position().y(), 64);
  // A fresh session has not moved: its last move tick is its spawn tick.
  EXPECT_EQ(welcome.last_move_tick(), welcome.server_tick());
  // What a dev login is granted (docs/protocol.md).
  EXPECT_EQ(welcome.role(), "player");
  EXPECT_EQ(std::vector<std::string>(welcome.permissions().begin(),
                                     welcome.permissions().end()),
            (std::vector<std::string>{"move", "shoot"}));
}

TEST_P(GameplayTest, MoveValidationIsPerPeer) {
  std::unique_ptr<GameTestClient> a = Join("mover-a");
  std::unique_ptr<GameTestClient> b = Join("mover-b");
  ASSERT_TRUE(a && b);
  // b's welcome is the later one: its estimate is the better lower bound.
  const int64_t t = b->EstimatedServerTick();
  ASSERT_GT(t + 1, a->welcome().last_move_tick());
  ASSERT_GT(t + 1, b->welcome().last_move_tick());

  // a runs ahead to t+2.
  ASSERT_OK_AND_ASSIGN(MoveResult a1, a->Move(t + 2, 1, 0));
  EXPECT_TRUE(a1.accepted()) << a1.ShortDebugString();
  EXPECT_EQ(a1.rejection(), "");
  game::v1::Position a_position = a1.position();
  if (!a1.clamped()) {
    EXPECT_EQ(a_position.x(), a->welcome().position().x() + 1);
    EXPECT_EQ(a_position.y(), a->welcome().position().y());
  }
  // t+1 is stale for a, and a replay of t+2 too...
  ASSERT_OK_AND_ASSIGN(MoveResult a_stale, a->Move(t + 1, 0, 1));
  EXPECT_FALSE(a_stale.accepted());
  EXPECT_EQ(a_stale.rejection(), "stale_tick");
  EXPECT_EQ(a_stale.position().ShortDebugString(),
            a_position.ShortDebugString());
  ASSERT_OK_AND_ASSIGN(MoveResult a_replay, a->Move(t + 2, 1, 0));
  EXPECT_EQ(a_replay.rejection(), "stale_tick");
  // ...but not for b, whose own last move is older.
  ASSERT_OK_AND_ASSIGN(MoveResult b1, b->Move(t + 1, 0, 1));
  EXPECT_TRUE(b1.accepted()) << b1.ShortDebugString();
  ASSERT_OK_AND_ASSIGN(MoveResult b2, b->Move(t + 2, 0, 1));
  EXPECT_TRUE(b2.accepted()) << b2.ShortDebugString();
  game::v1::Position b_position = b2.position();

  // Too many steps for one tick: rejected for a, position unchanged.
  ASSERT_OK_AND_ASSIGN(MoveResult a_fast, a->Move(t + 3, 2, 1));
  EXPECT_EQ(a_fast.rejection(), "too_many_steps");
  EXPECT_EQ(a_fast.position().ShortDebugString(),
            a_position.ShortDebugString());
  // Far ahead of the server: rejected for a only.
  ASSERT_OK_AND_ASSIGN(MoveResult a_ahead, a->Move(t + 1000, 1, 0));
  EXPECT_EQ(a_ahead.rejection(), "tick_too_far_ahead");
  ASSERT_OK_AND_ASSIGN(MoveResult b3, b->Move(t + 3, 0, -1));
  EXPECT_TRUE(b3.accepted()) << b3.ShortDebugString();
  b_position = b3.position();
  // a's rejections changed nothing of a's: t+3 is still free for it.
  ASSERT_OK_AND_ASSIGN(MoveResult a2, a->Move(t + 3, -1, 0));
  EXPECT_TRUE(a2.accepted()) << a2.ShortDebugString();
  a_position = a2.position();

  // The service's view matches what each peer was told.
  OpsClient& ops = cluster_->ops();
  ASSERT_OK_AND_ASSIGN(ops::v1::Session a_session,
                       ops.GetSession(a->welcome().session_id()));
  ASSERT_OK_AND_ASSIGN(ops::v1::Session b_session,
                       ops.GetSession(b->welcome().session_id()));
  EXPECT_EQ(a_session.last_move_tick(), t + 3);
  EXPECT_EQ(b_session.last_move_tick(), t + 3);
  EXPECT_EQ(a_session.position().x(), a_position.x());
  EXPECT_EQ(a_session.position().y(), a_position.y());
  EXPECT_EQ(b_session.position().x(), b_position.x());
  EXPECT_EQ(b_session.position().y(), b_position.y());
  EXPECT_EQ(a_session.state(), ops::v1::SESSION_STATE_ACTIVE);
  EXPECT_EQ(b_session.state(), ops::v1::SESSION_STATE_ACTIVE);
}

TEST_P(GameplayTest, ShotsArePerPeerAndHitsReachTheTarget) {
  std::unique_ptr<GameTestClient> a = Join("shooter-a");
  std::unique_ptr<GameTestClient> b = Join("shooter-b");
  std::unique_ptr<GameTestClient> c = Join("shooter-c");
  ASSERT_TRUE(a && b && c);
  const std::string a_id = a->welcome().session_id();
  const std::string b_id = b->welcome().session_id();
  const std::string c_id = c->welcome().session_id();
  // Every peer had spawned by c's welcome tick.
  const int64_t t = c->EstimatedServerTick();

  // a hits b: a is told the result, b is told it was hit.
  ASSERT_OK_AND_ASSIGN(ShootResult a_hit, a->Shoot(t, b_id));
  EXPECT_TRUE(a_hit.accepted()) << a_hit.ShortDebugString();
  EXPECT_EQ(a_hit.target_session_id(), b_id);
  EXPECT_EQ(a_hit.target_health(), 80);
  ASSERT_OK_AND_ASSIGN(
      game::v1::ServerMessage b_told,
      b->ReceiveBody(game::v1::ServerMessage::kHitReceived, absl::Seconds(5)));
  EXPECT_EQ(b_told.hit_received().shooter_session_id(), a_id);
  EXPECT_EQ(b_told.hit_received().tick(), t);
  EXPECT_EQ(b_told.hit_received().health(), 80);

  // a is cooling down, and a stale tick is stale for a...
  ASSERT_OK_AND_ASSIGN(ShootResult a_again, a->Shoot(t + 1, b_id));
  EXPECT_EQ(a_again.rejection(), "fire_cooldown");
  ASSERT_OK_AND_ASSIGN(ShootResult a_stale, a->Shoot(t, b_id));
  EXPECT_EQ(a_stale.rejection(), "stale_tick");
  // ...while c may shoot at the very tick a used, and b may answer at once.
  ASSERT_OK_AND_ASSIGN(ShootResult c_hit, c->Shoot(t, b_id));
  EXPECT_TRUE(c_hit.accepted()) << c_hit.ShortDebugString();
  EXPECT_EQ(c_hit.target_health(), 60);
  ASSERT_OK_AND_ASSIGN(
      game::v1::ServerMessage b_told_again,
      b->ReceiveBody(game::v1::ServerMessage::kHitReceived, absl::Seconds(5)));
  EXPECT_EQ(b_told_again.hit_received().shooter_session_id(), c_id);
  EXPECT_EQ(b_told_again.hit_received().health(), 60);
  ASSERT_OK_AND_ASSIGN(ShootResult b_hit, b->Shoot(t, a_id));
  EXPECT_TRUE(b_hit.accepted()) << b_hit.ShortDebugString();
  EXPECT_EQ(b_hit.target_health(), 80);
  ASSERT_OK_AND_ASSIGN(
      game::v1::ServerMessage a_told,
      a->ReceiveBody(game::v1::ServerMessage::kHitReceived, absl::Seconds(5)));
  EXPECT_EQ(a_told.hit_received().shooter_session_id(), b_id);

  // Nobody shot c: it was told nothing (its pong comes after anything the
  // service sent it before).
  ASSERT_OK(c->Ping());
  EXPECT_FALSE(c->InboxHas(game::v1::ServerMessage::kHitReceived));

  // Health as the service holds it.
  OpsClient& ops = cluster_->ops();
  ASSERT_OK_AND_ASSIGN(ops::v1::Session a_session, ops.GetSession(a_id));
  ASSERT_OK_AND_ASSIGN(ops::v1::Session b_session, ops.GetSession(b_id));
  ASSERT_OK_AND_ASSIGN(ops::v1::Session c_session, ops.GetSession(c_id));
  EXPECT_EQ(a_session.health(), 80);
  EXPECT_EQ(b_session.health(), 60);
  EXPECT_EQ(c_session.health(), 100);
  EXPECT_EQ(a_session.last_shot_tick(), t);
  EXPECT_EQ(c_session.last_shot_tick(), t);
}

TEST_P(GameplayTest, ShotTargetRejections) {
  std::unique_ptr<GameTestClient> d = Join("shooter-d");
  std::unique_ptr<GameTestClient> e = Join("shooter-e");
  ASSERT_TRUE(d && e);
  const std::string d_id = d->welcome().session_id();
  // Rejections that record nothing can be tried one after another.
  const int64_t t = e->EstimatedServerTick();
  ASSERT_OK_AND_ASSIGN(ShootResult self, d->Shoot(t, d_id));
  EXPECT_EQ(self.rejection(), "self_target");
  ASSERT_OK_AND_ASSIGN(ShootResult unknown, d->Shoot(t, "00000000ffffffff"));
  EXPECT_EQ(unknown.rejection(), "unknown_target");
  ASSERT_OK_AND_ASSIGN(ShootResult ahead,
                       d->Shoot(t + 1000, e->welcome().session_id()));
  EXPECT_EQ(ahead.rejection(), "tick_too_far_ahead");
  // Tick 0 lies outside the 9-tick lag window once the server is past tick
  // 10 (and is not stale: d has not shot yet).
  ASSERT_TRUE(WaitFor([&] { return e->EstimatedServerTick() >= 12; },
                      absl::Seconds(5)));
  ASSERT_OK_AND_ASSIGN(ShootResult old, d->Shoot(0, e->welcome().session_id()));
  EXPECT_EQ(old.rejection(), "outside_lag_window");
  // None of it hurt e or used d's shot.
  ASSERT_OK_AND_ASSIGN(ShootResult hit, d->Shoot(d->EstimatedServerTick(),
                                                 e->welcome().session_id()));
  EXPECT_TRUE(hit.accepted()) << hit.ShortDebugString();
  EXPECT_EQ(hit.target_health(), 80);
}

TEST_P(GameplayTest, AHeldTargetCannotBeShot) {
  std::unique_ptr<GameTestClient> shooter = Join("hunter");
  std::unique_ptr<GameTestClient> target = Join("hunted");
  ASSERT_TRUE(shooter && target);
  const std::string target_id = target->welcome().session_id();
  // A target held for resume is not active. (Over TCP a reset makes that
  // happen at once; a silent UDP peer would take the gateway's idle
  // timeout, and holding is covered per transport in the disconnect tests.)
  if (GetParam() == Transport::kTcp) {
    target->CloseAbruptly();
    ASSERT_OK(cluster_->ops().WaitForState(
        target_id, ops::v1::SESSION_STATE_RECONNECTING, absl::Seconds(5)));
    ASSERT_OK_AND_ASSIGN(
        ShootResult shot,
        shooter->Shoot(shooter->EstimatedServerTick(), target_id));
    EXPECT_EQ(shot.rejection(), "target_not_active");
  }
  // A closed target is unknown.
  ASSERT_OK(cluster_->ops().EvictSession(target_id, "gone"));
  ASSERT_OK_AND_ASSIGN(
      ShootResult gone,
      shooter->Shoot(shooter->EstimatedServerTick(), target_id));
  EXPECT_EQ(gone.rejection(), "unknown_target");
  // Neither refusal cost the shooter its shot.
  std::unique_ptr<GameTestClient> other = Join("bystander");
  ASSERT_TRUE(other);
  ASSERT_OK_AND_ASSIGN(ShootResult hit,
                       shooter->Shoot(other->EstimatedServerTick(),
                                      other->welcome().session_id()));
  EXPECT_TRUE(hit.accepted()) << hit.ShortDebugString();
}

// target_not_active means neither active nor suspect: a target that has
// only gone quiet (suspect) can still be hit.
TEST_P(GameplayTest, ASuspectTargetCanBeHit) {
  ClusterOptions options = GameplayOptions();
  options.service_flags.push_back("--suspect_after=300ms");
  options.service_flags.push_back("--advance_interval=10ms");
  ASSERT_OK_AND_ASSIGN(cluster_, Cluster::Start(options));
  std::unique_ptr<GameTestClient> shooter = Join("watcher");
  std::unique_ptr<GameTestClient> target = Join("quiet");
  ASSERT_TRUE(shooter && target);
  const std::string target_id = target->welcome().session_id();
  ASSERT_OK(cluster_->ops().WaitForState(
      target_id, ops::v1::SESSION_STATE_SUSPECT, absl::Seconds(5)));
  ASSERT_OK_AND_ASSIGN(
      ShootResult shot,
      shooter->Shoot(shooter->EstimatedServerTick(), target_id));
  EXPECT_TRUE(shot.accepted()) << shot.ShortDebugString();
  ASSERT_OK_AND_ASSIGN(
      ServerMessage hit,
      target->ReceiveBody(ServerMessage::kHitReceived, absl::Seconds(5)));
  // HitReceived.tick is the shot's tick.
  EXPECT_EQ(hit.hit_received().tick(), shot.tick());
}

TEST_P(GameplayTest, InputsBeforeLoginAreRefused) {
  ASSERT_OK_AND_ASSIGN(auto stranger, GameTestClient::Connect(
                                          GetParam(), cluster_->game_port()));
  game::v1::ClientMessage move;
  move.mutable_move()->set_tick(1);
  move.mutable_move()->set_dx(1);
  ASSERT_OK(stranger->Send(move));
  // Either a MoveResult or an InputRejected may carry the refusal.
  ASSERT_OK_AND_ASSIGN(game::v1::ServerMessage reply,
                       stranger->ReceiveMatching(
                           [](const game::v1::ServerMessage& m) {
                             return m.has_move_result() ||
                                    m.has_input_rejected() ||
                                    m.has_disconnect();
                           },
                           absl::Seconds(5)));
  if (reply.has_move_result()) {
    EXPECT_EQ(reply.move_result().rejection(), "not_logged_in");
  } else {
    ASSERT_TRUE(reply.has_input_rejected()) << Describe(reply);
    EXPECT_EQ(reply.input_rejected().reason(), "not_logged_in");
  }
  // The connection is still usable for a login.
  EXPECT_OK(stranger->Login("late"));
}

// A 4x4 world: four steps left from any spawn must hit the edge.
class SmallWorldTest : public ::testing::TestWithParam<Transport> {};

TEST_P(SmallWorldTest, MovesAreClampedToTheGrid) {
  ClusterOptions options;
  options.service_flags = {"--grid_size=4", "--movement_tick=100ms",
                           "--max_ticks_ahead=4"};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cluster> cluster,
                       Cluster::Start(options));
  ASSERT_OK_AND_ASSIGN(
      auto peer, GameTestClient::Connect(GetParam(), cluster->game_port()));
  ASSERT_OK_AND_ASSIGN(Welcome welcome, peer->Login("edge-walker"));
  ASSERT_LT(welcome.position().x(), 4);
  const int64_t t = peer->EstimatedServerTick();
  bool clamped = false;
  int x = welcome.position().x();
  for (int i = 1; i <= 4; ++i) {
    ASSERT_OK_AND_ASSIGN(MoveResult step, peer->Move(t + i, -1, 0));
    ASSERT_TRUE(step.accepted()) << step.ShortDebugString();
    EXPECT_EQ(step.position().x(), std::max(0, x - 1));
    EXPECT_EQ(step.clamped(), x == 0);
    clamped = clamped || step.clamped();
    x = step.position().x();
  }
  EXPECT_TRUE(clamped);
  EXPECT_EQ(x, 0);
}

INSTANTIATE_TEST_SUITE_P(Transports, SmallWorldTest,
                         ::testing::Values(Transport::kTcp, Transport::kUdp),
                         [](const auto& info) {
                           return TransportName(info.param);
                         });

INSTANTIATE_TEST_SUITE_P(Transports, GameplayTest,
                         ::testing::Values(Transport::kTcp, Transport::kUdp),
                         [](const auto& info) {
                           return TransportName(info.param);
                         });

}  // namespace
}  // namespace gss::testing
