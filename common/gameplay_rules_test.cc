#include "common/gameplay_rules.h"

#include <limits>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace gss {

void PrintTo(const GridPosition& p, std::ostream* os) {
  *os << "(" << p.x << ", " << p.y << ")";
}

namespace {

// Defaults: grid 64, 50 ms ticks, 1 step per tick, 4 ticks ahead, 10 ticks
// of step credit; 250 ms (5 ticks) of rewind, 200 ms cooldown, range 10,
// damage 20, max health 100.
GameplayRules DefaultRules() { return GameplayRules{}; }

bool ContainsText(const absl::Status& status, const std::string& text) {
  return std::string(status.message()).find(text) != std::string::npos;
}

// Everything observable about a peer, for "a rejection changes nothing".
struct Snapshot {
  GridPosition position;
  int64_t last_move_tick;
  int64_t last_shot_tick;
  int64_t last_shot_at_ns;
  int32_t health;
  std::vector<std::optional<GridPosition>> history;  // At(-1) .. At(63).

  friend bool operator==(const Snapshot&, const Snapshot&) = default;
};

Snapshot Take(const PeerGameState& peer) {
  Snapshot s{peer.position,        peer.last_move_tick, peer.last_shot_tick,
             peer.last_shot_at_ns, peer.health,         {}};
  for (int64_t tick = -1; tick < 64; ++tick) {
    s.history.push_back(peer.history.At(tick));
  }
  return s;
}

// ------------------------------------------------------------ Validate etc.

TEST(GameplayRulesValidateTest, DefaultsValidate) {
  EXPECT_TRUE(DefaultRules().Validate().ok()) << DefaultRules().Validate();
}

TEST(GameplayRulesValidateTest, MaxRewindTicksTruncatesToWholeTicks) {
  GameplayRules rules;
  EXPECT_EQ(rules.max_rewind_ticks(), 5);
  rules.combat.max_rewind = absl::Milliseconds(299);
  EXPECT_EQ(rules.max_rewind_ticks(), 5);
  rules.combat.max_rewind = absl::Milliseconds(300);
  EXPECT_EQ(rules.max_rewind_ticks(), 6);
  rules.combat.max_rewind = absl::ZeroDuration();
  EXPECT_EQ(rules.max_rewind_ticks(), 0);
}

TEST(GameplayRulesValidateTest, HistoryAtExactCapacityValidates) {
  // rewind 10 + ahead 4 + 2 = 16 = kCapacity.
  GameplayRules rules;
  rules.combat.max_rewind = absl::Milliseconds(500);
  rules.world.max_ticks_ahead = 4;
  EXPECT_TRUE(rules.Validate().ok()) << rules.Validate();
}

TEST(GameplayRulesValidateTest, RejectsRewindThatOverflowsHistory) {
  GameplayRules rules;
  rules.combat.max_rewind = absl::Milliseconds(550);  // 11 + 4 + 2 = 17.
  const absl::Status status = rules.Validate();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ContainsText(status, "max_rewind")) << status;
  EXPECT_TRUE(ContainsText(status, "history")) << status;
}

TEST(GameplayRulesValidateTest, RejectsTicksAheadThatOverflowHistory) {
  GameplayRules rules;
  rules.combat.max_rewind = absl::Milliseconds(500);  // 10 + 5 + 2 = 17.
  rules.world.max_ticks_ahead = 5;
  const absl::Status status = rules.Validate();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ContainsText(status, "max_ticks_ahead")) << status;
}

TEST(GameplayRulesValidateTest, ShortTicksTurnTheSameRewindIntoOverflow) {
  GameplayRules rules;
  rules.world.movement_tick = absl::Milliseconds(10);  // 250 ms = 25 ticks.
  EXPECT_EQ(rules.Validate().code(), absl::StatusCode::kInvalidArgument);
}

TEST(GameplayRulesValidateTest, RejectsBadGridSizes) {
  for (int32_t grid_size : {0, -1, -64, 32768, 1 << 20}) {
    SCOPED_TRACE(grid_size);
    GameplayRules rules;
    rules.world.grid_size = grid_size;
    const absl::Status status = rules.Validate();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(ContainsText(status, "grid_size")) << status;
  }
}

TEST(GameplayRulesValidateTest, AcceptsGridSizeBounds) {
  for (int32_t grid_size : {1, 32767}) {
    GameplayRules rules;
    rules.world.grid_size = grid_size;
    EXPECT_TRUE(rules.Validate().ok()) << grid_size << ": " << rules.Validate();
  }
}

TEST(GameplayRulesValidateTest, RejectsTooShortMovementTick) {
  for (absl::Duration tick : {absl::ZeroDuration(), absl::Microseconds(999),
                              absl::Milliseconds(-50)}) {
    GameplayRules rules;
    rules.combat.max_rewind = absl::ZeroDuration();  // Keep history in bounds.
    rules.world.movement_tick = tick;
    const absl::Status status = rules.Validate();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << tick;
    EXPECT_TRUE(ContainsText(status, "movement_tick")) << status;
  }
  GameplayRules rules;
  rules.combat.max_rewind = absl::ZeroDuration();
  rules.world.movement_tick = absl::Milliseconds(1);
  EXPECT_TRUE(rules.Validate().ok()) << rules.Validate();
}

TEST(GameplayRulesValidateTest, RejectsBadMovementLimits) {
  {
    GameplayRules rules;
    rules.world.movement_max_steps_per_tick = 0;
    const absl::Status status = rules.Validate();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(ContainsText(status, "movement_max_steps_per_tick")) << status;
  }
  {
    GameplayRules rules;
    rules.world.max_step_credit_ticks = 0;
    const absl::Status status = rules.Validate();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(ContainsText(status, "max_step_credit_ticks")) << status;
  }
  {
    GameplayRules rules;
    rules.world.max_ticks_ahead = -1;
    const absl::Status status = rules.Validate();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(ContainsText(status, "max_ticks_ahead")) << status;
  }
  GameplayRules zero_ahead;
  zero_ahead.world.max_ticks_ahead = 0;
  EXPECT_TRUE(zero_ahead.Validate().ok()) << zero_ahead.Validate();
}

TEST(GameplayRulesValidateTest, RejectsBadCombatSettings) {
  struct Case {
    const char* name;
    void (*mutate)(CombatConfig&);
    const char* field;
  };
  const Case cases[] = {
      {"negative rewind",
       [](CombatConfig& c) { c.max_rewind = absl::Milliseconds(-1); },
       "max_rewind"},
      {"negative cooldown",
       [](CombatConfig& c) { c.fire_cooldown = absl::Milliseconds(-1); },
       "fire_cooldown"},
      {"negative range", [](CombatConfig& c) { c.range = -1; }, "range"},
      {"negative damage", [](CombatConfig& c) { c.damage = -1; }, "damage"},
      {"zero max_health", [](CombatConfig& c) { c.max_health = 0; },
       "max_health"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    GameplayRules rules;
    c.mutate(rules.combat);
    const absl::Status status = rules.Validate();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(ContainsText(status, c.field)) << status;
  }
  GameplayRules zeros;
  zeros.combat.fire_cooldown = absl::ZeroDuration();
  zeros.combat.range = 0;
  zeros.combat.damage = 0;
  zeros.combat.max_health = 1;
  EXPECT_TRUE(zeros.Validate().ok()) << zeros.Validate();
}

TEST(GameplayRulesTickAtTest, CountsWholeTicksSinceTheWorldStarted) {
  const GameplayRules rules;  // 50 ms ticks.
  EXPECT_EQ(rules.TickAt(absl::ZeroDuration()), 0);
  EXPECT_EQ(rules.TickAt(absl::Milliseconds(49)), 0);
  EXPECT_EQ(rules.TickAt(absl::Milliseconds(50)), 1);
  EXPECT_EQ(rules.TickAt(absl::Milliseconds(99)), 1);
  EXPECT_EQ(rules.TickAt(absl::Seconds(1)), 20);
  EXPECT_EQ(rules.TickAt(absl::Hours(1)), 72000);
}

TEST(GameplayRulesTickAtTest, NegativeElapsedIsTickZero) {
  const GameplayRules rules;
  EXPECT_EQ(rules.TickAt(absl::Milliseconds(-1)), 0);
  EXPECT_EQ(rules.TickAt(absl::Seconds(-100)), 0);
}

TEST(GameplayRulesTickAtTest, FollowsTheConfiguredTick) {
  GameplayRules rules;
  rules.world.movement_tick = absl::Milliseconds(16);
  EXPECT_EQ(rules.TickAt(absl::Seconds(1)), 62);
  EXPECT_EQ(rules.TickAt(absl::Milliseconds(32)), 2);
}

// ------------------------------------------------- Permissions and names

TEST(ParsePermissionTest, SetsTheNamedBitsCumulatively) {
  uint32_t bits = 0;
  ASSERT_TRUE(ParsePermission("move", &bits).ok());
  EXPECT_EQ(bits, uint32_t{kPermissionMove});
  ASSERT_TRUE(ParsePermission("shoot", &bits).ok());
  EXPECT_EQ(bits, kAllPermissions);

  uint32_t only_shoot = 0;
  ASSERT_TRUE(ParsePermission("shoot", &only_shoot).ok());
  EXPECT_EQ(only_shoot, uint32_t{kPermissionShoot});
}

TEST(ParsePermissionTest, UnknownNameIsInvalidAndLeavesBitsAlone) {
  for (const char* name : {"", "Move", "SHOOT", "fly", "move "}) {
    SCOPED_TRACE(name);
    uint32_t bits = kPermissionMove;
    const absl::Status status = ParsePermission(name, &bits);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(bits, uint32_t{kPermissionMove});
  }
}

TEST(InputRejectionNameTest, NamesAreDistinctAndStable) {
  std::set<std::string> names;
  for (int i = 0; i < kInputRejectionCount; ++i) {
    const std::string name(InputRejectionName(static_cast<InputRejection>(i)));
    EXPECT_FALSE(name.empty()) << i;
    EXPECT_TRUE(names.insert(name).second) << "duplicate " << name;
  }
  EXPECT_EQ(std::string(InputRejectionName(InputRejection::kNone)), "none");
  EXPECT_EQ(std::string(InputRejectionName(InputRejection::kStaleTick)),
            "stale_tick");
  EXPECT_EQ(std::string(InputRejectionName(InputRejection::kTargetOutOfRange)),
            "target_out_of_range");
}

// ---------------------------------------------------------- PositionHistory

TEST(PositionHistoryTest, EmptyHistoryKnowsNoPosition) {
  const PositionHistory history;
  EXPECT_EQ(history.At(0), std::nullopt);
  EXPECT_EQ(history.At(100), std::nullopt);
}

TEST(PositionHistoryTest, AtReturnsTheLatestRecordAtOrBeforeTheTick) {
  PositionHistory history;
  history.Record(10, {1, 2});
  history.Record(20, {3, 4});
  history.Record(21, {5, 6});
  EXPECT_EQ(history.At(9), std::nullopt);
  EXPECT_EQ(history.At(10), (GridPosition{1, 2}));
  EXPECT_EQ(history.At(19), (GridPosition{1, 2}));
  EXPECT_EQ(history.At(20), (GridPosition{3, 4}));
  EXPECT_EQ(history.At(21), (GridPosition{5, 6}));
  EXPECT_EQ(history.At(1'000'000), (GridPosition{5, 6}));
}

TEST(PositionHistoryTest, NegativeTickHasNoPosition) {
  PositionHistory history;
  history.Record(0, {7, 7});
  EXPECT_EQ(history.At(0), (GridPosition{7, 7}));
  EXPECT_EQ(history.At(-1), std::nullopt);
  EXPECT_EQ(history.At(std::numeric_limits<int64_t>::min()), std::nullopt);
}

TEST(PositionHistoryTest, ClearForgetsEverything) {
  PositionHistory history;
  history.Record(1, {1, 1});
  history.Record(2, {2, 2});
  history.Clear();
  EXPECT_EQ(history.At(2), std::nullopt);
  EXPECT_EQ(history.At(100), std::nullopt);
  history.Record(5, {9, 9});
  EXPECT_EQ(history.At(4), std::nullopt);  // Nothing from before Clear().
  EXPECT_EQ(history.At(5), (GridPosition{9, 9}));
}

TEST(PositionHistoryTest, HoldsExactlyCapacityRecords) {
  constexpr int kCap = PositionHistory::kCapacity;
  PositionHistory history;
  for (int i = 0; i < kCap; ++i) history.Record(i, {i, -i});
  for (int i = 0; i < kCap; ++i) {
    EXPECT_EQ(history.At(i), (GridPosition{i, -i})) << i;
  }
  // One more pushes the oldest out.
  history.Record(kCap, {kCap, -kCap});
  EXPECT_EQ(history.At(0), std::nullopt);
  EXPECT_EQ(history.At(1), (GridPosition{1, -1}));
  EXPECT_EQ(history.At(kCap), (GridPosition{kCap, -kCap}));
}

TEST(PositionHistoryTest, WrapsAroundManyTimes) {
  constexpr int kCap = PositionHistory::kCapacity;
  constexpr int kRecords = 3 * kCap + 5;
  PositionHistory history;
  // Sparse ticks, so At() has to pick the record in force between them.
  for (int i = 0; i < kRecords; ++i) history.Record(10 * i, {i, i + 1});
  const int oldest = kRecords - kCap;
  EXPECT_EQ(history.At(10 * oldest - 1), std::nullopt);
  for (int i = oldest; i < kRecords; ++i) {
    EXPECT_EQ(history.At(10 * i), (GridPosition{i, i + 1})) << i;
    EXPECT_EQ(history.At(10 * i + 9), (GridPosition{i, i + 1})) << i;
  }
}

TEST(PositionHistoryTest, StoresNegativeAndLargeGridCoordinates) {
  PositionHistory history;
  history.Record(1, {32766, 0});
  history.Record(2, {0, 32766});
  EXPECT_EQ(history.At(1), (GridPosition{32766, 0}));
  EXPECT_EQ(history.At(2), (GridPosition{0, 32766}));
}

// ------------------------------------------------------------ PeerGameState

TEST(PeerGameStateTest, SpawnResetsEverything) {
  PeerGameState peer;
  peer.Spawn({3, 4}, 7, 100);
  peer.last_shot_tick = 9;
  peer.last_shot_at_ns = 12345;
  peer.health = 1;
  peer.history.Record(8, {5, 5});

  peer.Spawn({10, 11}, 20, 80);
  EXPECT_EQ(peer.position, (GridPosition{10, 11}));
  EXPECT_EQ(peer.last_move_tick, 20);
  EXPECT_EQ(peer.last_shot_tick, -1);
  EXPECT_EQ(peer.last_shot_at_ns, std::numeric_limits<int64_t>::min());
  EXPECT_EQ(peer.health, 80);
  EXPECT_EQ(peer.history.At(19), std::nullopt);  // Old life forgotten.
  EXPECT_EQ(peer.history.At(20), (GridPosition{10, 11}));
}

// ---------------------------------------------------------------- ApplyMove

class ApplyMoveTest : public testing::Test {
 protected:
  void SetUp() override { peer_.Spawn({10, 10}, 0, rules_.combat.max_health); }

  MoveResult Move(int64_t server_tick, int64_t tick, int32_t dx, int32_t dy) {
    return ApplyMove(rules_, server_tick, MoveInput{tick, dx, dy}, peer_);
  }

  GameplayRules rules_;
  PeerGameState peer_;
};

TEST_F(ApplyMoveTest, AcceptedMoveUpdatesPositionTickAndHistory) {
  const MoveResult result = Move(1, 1, 1, 0);
  EXPECT_TRUE(result.accepted());
  EXPECT_EQ(result.rejection, InputRejection::kNone);
  EXPECT_EQ(result.position, (GridPosition{11, 10}));
  EXPECT_FALSE(result.clamped);
  EXPECT_EQ(peer_.position, (GridPosition{11, 10}));
  EXPECT_EQ(peer_.last_move_tick, 1);
  EXPECT_EQ(peer_.history.At(0), (GridPosition{10, 10}));
  EXPECT_EQ(peer_.history.At(1), (GridPosition{11, 10}));
}

TEST_F(ApplyMoveTest, SequenceOfMovesIsRecordedTickByTick) {
  ASSERT_TRUE(Move(5, 2, 0, 2).accepted());
  ASSERT_TRUE(Move(5, 3, -1, 0).accepted());
  ASSERT_TRUE(Move(6, 6, 0, -3).accepted());
  EXPECT_EQ(peer_.position, (GridPosition{9, 9}));
  EXPECT_EQ(peer_.history.At(1), (GridPosition{10, 10}));
  EXPECT_EQ(peer_.history.At(2), (GridPosition{10, 12}));
  EXPECT_EQ(peer_.history.At(3), (GridPosition{9, 12}));
  EXPECT_EQ(peer_.history.At(5), (GridPosition{9, 12}));
  EXPECT_EQ(peer_.history.At(6), (GridPosition{9, 9}));
}

TEST_F(ApplyMoveTest, TickAtOrBeforeLastAcceptedIsStaleAndChangesNothing) {
  ASSERT_TRUE(Move(5, 5, 1, 0).accepted());
  const Snapshot before = Take(peer_);
  for (int64_t tick : {int64_t{5}, int64_t{4}, int64_t{0}, int64_t{-1}}) {
    SCOPED_TRACE(tick);
    const MoveResult result = Move(6, tick, 1, 0);
    EXPECT_FALSE(result.accepted());
    EXPECT_EQ(result.rejection, InputRejection::kStaleTick);
    EXPECT_EQ(result.position, (GridPosition{11, 10}));
    EXPECT_FALSE(result.clamped);
    EXPECT_EQ(Take(peer_), before);
  }
}

TEST_F(ApplyMoveTest, SpawnTickItselfIsStale) {
  const Snapshot before = Take(peer_);
  EXPECT_EQ(Move(3, 0, 0, 0).rejection, InputRejection::kStaleTick);
  EXPECT_EQ(Take(peer_), before);
}

TEST_F(ApplyMoveTest, TickBeyondServerPlusAheadIsRejected) {
  const Snapshot before = Take(peer_);
  const MoveResult result = Move(10, 15, 1, 0);  // 10 + 4 < 15.
  EXPECT_EQ(result.rejection, InputRejection::kTickTooFarAhead);
  EXPECT_EQ(result.position, (GridPosition{10, 10}));
  EXPECT_EQ(Take(peer_), before);

  EXPECT_TRUE(Move(10, 14, 1, 0).accepted());  // Exactly at the limit.
  EXPECT_EQ(peer_.last_move_tick, 14);
}

TEST_F(ApplyMoveTest, ZeroTicksAheadAllowsOnlyTheServerTick) {
  rules_.world.max_ticks_ahead = 0;
  EXPECT_EQ(Move(3, 4, 0, 0).rejection, InputRejection::kTickTooFarAhead);
  EXPECT_TRUE(Move(3, 3, 0, 0).accepted());
}

TEST_F(ApplyMoveTest, StepCapIsStepsPerTickTimesElapsedTicks) {
  // Three ticks since the spawn at tick 0: three steps.
  const Snapshot before = Take(peer_);
  const MoveResult too_many = Move(3, 3, 2, 2);
  EXPECT_EQ(too_many.rejection, InputRejection::kTooManySteps);
  EXPECT_EQ(too_many.position, (GridPosition{10, 10}));
  EXPECT_EQ(Take(peer_), before);

  const MoveResult ok = Move(3, 3, 2, -1);
  EXPECT_TRUE(ok.accepted());
  EXPECT_EQ(ok.position, (GridPosition{12, 9}));
}

TEST_F(ApplyMoveTest, StepsAreManhattanSoADiagonalCostsTwo) {
  EXPECT_EQ(Move(1, 1, 1, 1).rejection, InputRejection::kTooManySteps);
  EXPECT_EQ(Move(1, 1, -1, -1).rejection, InputRejection::kTooManySteps);
  EXPECT_EQ(Move(1, 1, 0, -2).rejection, InputRejection::kTooManySteps);
  EXPECT_TRUE(Move(2, 2, -1, -1).accepted());
  EXPECT_EQ(peer_.position, (GridPosition{9, 9}));
}

TEST_F(ApplyMoveTest, StepCapScalesWithStepsPerTick) {
  rules_.world.movement_max_steps_per_tick = 3;
  EXPECT_EQ(Move(2, 2, 4, 3).rejection, InputRejection::kTooManySteps);
  EXPECT_TRUE(Move(2, 2, 4, -2).accepted());  // 6 = 3 * 2.
  EXPECT_EQ(peer_.position, (GridPosition{14, 8}));
}

TEST_F(ApplyMoveTest, StepCreditIsCappedAfterIdleTicks) {
  // 50 idle ticks, but at most 10 count.
  EXPECT_EQ(Move(50, 50, 11, 0).rejection, InputRejection::kTooManySteps);
  EXPECT_EQ(Move(50, 50, 6, -5).rejection, InputRejection::kTooManySteps);
  EXPECT_TRUE(Move(50, 50, 6, -4).accepted());
  EXPECT_EQ(peer_.position, (GridPosition{16, 6}));
}

TEST_F(ApplyMoveTest, CreditCountsFromTheLastAcceptedMoveNotFromSpawn) {
  ASSERT_TRUE(Move(4, 4, 4, 0).accepted());
  // One tick later only one step is allowed again.
  EXPECT_EQ(Move(5, 5, 2, 0).rejection, InputRejection::kTooManySteps);
  EXPECT_TRUE(Move(5, 5, 1, 0).accepted());
  EXPECT_EQ(peer_.position, (GridPosition{15, 10}));
}

TEST_F(ApplyMoveTest, HugeStepCountsAreRejectedWithoutOverflow) {
  const int32_t big = std::numeric_limits<int32_t>::max();
  const int32_t small = std::numeric_limits<int32_t>::min();
  EXPECT_EQ(Move(1, 1, big, big).rejection, InputRejection::kTooManySteps);
  EXPECT_EQ(Move(1, 1, small, small).rejection, InputRejection::kTooManySteps);
  EXPECT_EQ(Move(1, 1, small, 0).rejection, InputRejection::kTooManySteps);
  EXPECT_EQ(peer_.position, (GridPosition{10, 10}));
}

TEST_F(ApplyMoveTest, PositionIsClampedIntoTheGrid) {
  rules_.world.max_step_credit_ticks = 10;
  peer_.Spawn({1, 62}, 0, 100);
  const MoveResult result = Move(10, 10, -3, 5);
  EXPECT_TRUE(result.accepted());
  EXPECT_TRUE(result.clamped);
  EXPECT_EQ(result.position, (GridPosition{0, 63}));
  EXPECT_EQ(peer_.position, (GridPosition{0, 63}));
  EXPECT_EQ(peer_.last_move_tick, 10);
  EXPECT_EQ(peer_.history.At(10), (GridPosition{0, 63}));
}

TEST_F(ApplyMoveTest, ClampedOnEachEdgeAndOnlyWhenNeeded) {
  struct Case {
    GridPosition from;
    int32_t dx, dy;
    GridPosition to;
    bool clamped;
  };
  const Case cases[] = {
      {{0, 5}, -1, 0, {0, 5}, true},  {{63, 5}, 1, 0, {63, 5}, true},
      {{5, 0}, 0, -1, {5, 0}, true},  {{5, 63}, 0, 1, {5, 63}, true},
      {{1, 5}, -1, 0, {0, 5}, false}, {{62, 5}, 1, 0, {63, 5}, false},
      {{0, 0}, 0, 0, {0, 0}, false},  {{63, 63}, -1, 0, {62, 63}, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::PrintToString(c.from) + " + (" +
                 std::to_string(c.dx) + ", " + std::to_string(c.dy) + ")");
    peer_.Spawn(c.from, 0, 100);
    const MoveResult result = Move(1, 1, c.dx, c.dy);
    EXPECT_TRUE(result.accepted());
    EXPECT_EQ(result.position, c.to);
    EXPECT_EQ(result.clamped, c.clamped);
    EXPECT_EQ(peer_.position, c.to);
  }
}

TEST_F(ApplyMoveTest, OneCellGridClampsEveryMove) {
  rules_.world.grid_size = 1;
  peer_.Spawn({0, 0}, 0, 100);
  const MoveResult result = Move(1, 1, 0, 1);
  EXPECT_TRUE(result.accepted());
  EXPECT_TRUE(result.clamped);
  EXPECT_EQ(result.position, (GridPosition{0, 0}));
}

TEST_F(ApplyMoveTest, StandingStillIsAcceptedAndUsesTheTick) {
  const MoveResult result = Move(1, 1, 0, 0);
  EXPECT_TRUE(result.accepted());
  EXPECT_FALSE(result.clamped);
  EXPECT_EQ(result.position, (GridPosition{10, 10}));
  EXPECT_EQ(peer_.last_move_tick, 1);
  EXPECT_EQ(Move(1, 1, 0, 0).rejection, InputRejection::kStaleTick);
}

TEST_F(ApplyMoveTest, MoveLeavesCombatStateAlone) {
  peer_.last_shot_tick = 3;
  peer_.last_shot_at_ns = 777;
  peer_.health = 42;
  ASSERT_TRUE(Move(1, 1, 1, 0).accepted());
  EXPECT_EQ(peer_.last_shot_tick, 3);
  EXPECT_EQ(peer_.last_shot_at_ns, 777);
  EXPECT_EQ(peer_.health, 42);
}

// A peer's standing is judged before its input: not live, then not
// permitted, each changing nothing, whatever the input would have been.
TEST_F(ApplyMoveTest, StandingIsJudgedBeforeTheMove) {
  const Snapshot before = Take(peer_);
  const MoveInput valid{1, 1, 0};
  const MoveInput stale{-5, 1, 0};
  for (const MoveInput& input : {valid, stale}) {
    MoveResult held =
        ApplyMove(rules_, 1, input, peer_, PeerStanding{.live = false});
    EXPECT_EQ(held.rejection, InputRejection::kNotLoggedIn);
    EXPECT_EQ(held.position, before.position);
    MoveResult barred =
        ApplyMove(rules_, 1, input, peer_,
                  PeerStanding{.live = true, .permissions = kPermissionShoot});
    EXPECT_EQ(barred.rejection, InputRejection::kNotPermitted);
    EXPECT_EQ(barred.position, before.position);
    EXPECT_EQ(Take(peer_), before);
  }
  EXPECT_TRUE(
      ApplyMove(rules_, 1, valid, peer_,
                PeerStanding{.live = true, .permissions = kPermissionMove})
          .accepted());
}

// --------------------------------------------------------------- ApplyShoot

class ApplyShootTest : public testing::Test {
 protected:
  void SetUp() override {
    shooter_.Spawn({0, 0}, 0, rules_.combat.max_health);
    target_.Spawn({5, 0}, 0, rules_.combat.max_health);
  }

  ShootResult Shoot(int64_t server_tick, absl::Time now, int64_t shot_tick) {
    return ApplyShoot(rules_, server_tick, now, shot_tick, shooter_,
                      ShotTarget{&target_, false, true});
  }
  ShootResult ShootAt(int64_t server_tick, absl::Time now, int64_t shot_tick,
                      const ShotTarget& target) {
    return ApplyShoot(rules_, server_tick, now, shot_tick, shooter_, target);
  }
  // Moves `peer` with the default rules; the move must be accepted.
  void MovePeer(PeerGameState& peer, int64_t tick, int32_t dx, int32_t dy) {
    ASSERT_TRUE(
        ApplyMove(rules_, tick, MoveInput{tick, dx, dy}, peer).accepted());
  }
  // Expects a rejection for `why`.
  void ExpectRejected(const ShootResult& result, InputRejection why) {
    EXPECT_FALSE(result.accepted());
    EXPECT_EQ(result.rejection, why) << InputRejectionName(result.rejection);
  }

  GameplayRules rules_;
  PeerGameState shooter_;
  PeerGameState target_;
  const absl::Time t0_ = absl::FromUnixSeconds(1'700'000'000);
};

TEST_F(ApplyShootTest, StandingIsJudgedBeforeTheShot) {
  const Snapshot shooter_before = Take(shooter_);
  const Snapshot target_before = Take(target_);
  const ShotTarget target{&target_, false, true};
  ExpectRejected(ApplyShoot(rules_, 4, t0_, 4, shooter_, target,
                            PeerStanding{.live = false}),
                 InputRejection::kNotLoggedIn);
  ExpectRejected(
      ApplyShoot(rules_, 4, t0_, 4, shooter_, target,
                 PeerStanding{.live = true, .permissions = kPermissionMove}),
      InputRejection::kNotPermitted);
  EXPECT_EQ(Take(shooter_), shooter_before);
  EXPECT_EQ(Take(target_), target_before);
  EXPECT_TRUE(
      ApplyShoot(rules_, 4, t0_, 4, shooter_, target,
                 PeerStanding{.live = true, .permissions = kPermissionShoot})
          .accepted());
}

TEST_F(ApplyShootTest, HitLowersOnlyTheTargetsHealth) {
  MovePeer(target_, 3, 1, 0);  // Some history to check is untouched.
  const Snapshot target_before = Take(target_);
  const Snapshot shooter_before = Take(shooter_);

  const ShootResult result = Shoot(4, t0_, 4);
  EXPECT_TRUE(result.accepted());
  EXPECT_EQ(result.rejection, InputRejection::kNone);
  EXPECT_EQ(result.target_health, 80);
  EXPECT_EQ(target_.health, 80);

  Snapshot target_expected = target_before;
  target_expected.health = 80;
  EXPECT_EQ(Take(target_), target_expected);

  Snapshot shooter_expected = shooter_before;
  shooter_expected.last_shot_tick = 4;
  shooter_expected.last_shot_at_ns = absl::ToUnixNanos(t0_);
  EXPECT_EQ(Take(shooter_), shooter_expected);
}

TEST_F(ApplyShootTest, HealthFloorsAtZeroThenTheTargetIsEliminated) {
  target_.health = 15;  // Less than one shot's damage.
  const ShootResult kill = Shoot(1, t0_, 1);
  EXPECT_TRUE(kill.accepted());
  EXPECT_EQ(kill.target_health, 0);
  EXPECT_EQ(target_.health, 0);

  const Snapshot shooter_before = Take(shooter_);
  const Snapshot target_before = Take(target_);
  const ShootResult again = Shoot(2, t0_ + absl::Seconds(1), 2);
  ExpectRejected(again, InputRejection::kTargetEliminated);
  EXPECT_EQ(Take(shooter_), shooter_before);
  EXPECT_EQ(Take(target_), target_before);
}

TEST_F(ApplyShootTest, FiveHitsTakeFullHealthToExactlyZero) {
  for (int i = 1; i <= 5; ++i) {
    const ShootResult result =
        Shoot(i, t0_ + i * rules_.combat.fire_cooldown, i);
    ASSERT_TRUE(result.accepted()) << i;
    EXPECT_EQ(result.target_health, 100 - 20 * i);
  }
  EXPECT_EQ(Shoot(6, t0_ + absl::Seconds(10), 6).rejection,
            InputRejection::kTargetEliminated);
}

TEST_F(ApplyShootTest, NegativeHealthCountsAsEliminated) {
  target_.health = -5;
  ExpectRejected(Shoot(1, t0_, 1), InputRejection::kTargetEliminated);
  EXPECT_EQ(target_.health, -5);
}

TEST_F(ApplyShootTest, ReplayedOrOlderShotTickIsStale) {
  ASSERT_TRUE(Shoot(10, t0_, 10).accepted());
  const Snapshot shooter_before = Take(shooter_);
  const Snapshot target_before = Take(target_);
  const absl::Time later = t0_ + absl::Seconds(5);  // Cooldown long over.
  ExpectRejected(Shoot(11, later, 10), InputRejection::kStaleTick);
  ExpectRejected(Shoot(11, later, 9), InputRejection::kStaleTick);
  EXPECT_EQ(Take(shooter_), shooter_before);
  EXPECT_EQ(Take(target_), target_before);
  EXPECT_TRUE(Shoot(11, later, 11).accepted());
}

TEST_F(ApplyShootTest, ShotTickTooFarAheadIsRejected) {
  const Snapshot shooter_before = Take(shooter_);
  ExpectRejected(Shoot(10, t0_, 15), InputRejection::kTickTooFarAhead);
  EXPECT_EQ(Take(shooter_), shooter_before);
  EXPECT_EQ(target_.health, 100);
  EXPECT_TRUE(Shoot(10, t0_, 14).accepted());
}

TEST_F(ApplyShootTest, ShotOlderThanTheLagWindowIsRejected) {
  // Server tick 20, 5 ticks of rewind: ticks 15 and later are in the window.
  const Snapshot shooter_before = Take(shooter_);
  ExpectRejected(Shoot(20, t0_, 14), InputRejection::kOutsideLagWindow);
  EXPECT_EQ(Take(shooter_), shooter_before);
  EXPECT_EQ(target_.health, 100);
  EXPECT_TRUE(Shoot(20, t0_, 15).accepted());
}

TEST_F(ApplyShootTest, ZeroRewindAcceptsOnlyCurrentOrAheadTicks) {
  rules_.combat.max_rewind = absl::ZeroDuration();
  ExpectRejected(Shoot(20, t0_, 19), InputRejection::kOutsideLagWindow);
  EXPECT_TRUE(Shoot(20, t0_, 20).accepted());
}

TEST_F(ApplyShootTest, FireCooldownIsMeasuredOnServerTime) {
  ASSERT_TRUE(Shoot(10, t0_, 10).accepted());
  // Ticks spaced far apart do not help while server time says too soon.
  const Snapshot shooter_before = Take(shooter_);
  ExpectRejected(Shoot(14, t0_ + absl::Milliseconds(199), 14),
                 InputRejection::kFireCooldown);
  EXPECT_EQ(Take(shooter_), shooter_before);
  EXPECT_EQ(target_.health, 80);
  // Exactly one cooldown later is allowed, even for the very next tick.
  EXPECT_TRUE(Shoot(11, t0_ + absl::Milliseconds(200), 11).accepted());
  EXPECT_EQ(target_.health, 60);
}

TEST_F(ApplyShootTest, CooldownRunsFromTheLastAcceptedShot) {
  ASSERT_TRUE(Shoot(10, t0_, 10).accepted());
  ASSERT_TRUE(Shoot(11, t0_ + absl::Milliseconds(200), 11).accepted());
  // 300 ms after the first shot but only 100 ms after the second.
  ExpectRejected(Shoot(12, t0_ + absl::Milliseconds(300), 12),
                 InputRejection::kFireCooldown);
  EXPECT_TRUE(Shoot(12, t0_ + absl::Milliseconds(400), 12).accepted());
}

TEST_F(ApplyShootTest, ZeroCooldownAllowsShotsAtTheSameInstant) {
  rules_.combat.fire_cooldown = absl::ZeroDuration();
  ASSERT_TRUE(Shoot(10, t0_, 10).accepted());
  EXPECT_TRUE(Shoot(10, t0_, 11).accepted());
  EXPECT_EQ(target_.health, 60);
}

TEST_F(ApplyShootTest, FirstShotIsNeverOnCooldownEvenAtTheEpoch) {
  EXPECT_TRUE(Shoot(1, absl::UnixEpoch(), 1).accepted());
}

TEST_F(ApplyShootTest, ShootingYourselfIsRejected) {
  const Snapshot shooter_before = Take(shooter_);
  ExpectRejected(ShootAt(1, t0_, 1, ShotTarget{&shooter_, true, true}),
                 InputRejection::kSelfTarget);
  EXPECT_EQ(Take(shooter_), shooter_before);
}

TEST_F(ApplyShootTest, UnknownTargetIsRejected) {
  const Snapshot shooter_before = Take(shooter_);
  ExpectRejected(ShootAt(1, t0_, 1, ShotTarget{nullptr, false, false}),
                 InputRejection::kUnknownTarget);
  EXPECT_EQ(Take(shooter_), shooter_before);
}

TEST_F(ApplyShootTest, InactiveTargetIsRejected) {
  const Snapshot shooter_before = Take(shooter_);
  const Snapshot target_before = Take(target_);
  ExpectRejected(ShootAt(1, t0_, 1, ShotTarget{&target_, false, false}),
                 InputRejection::kTargetNotActive);
  EXPECT_EQ(Take(shooter_), shooter_before);
  EXPECT_EQ(Take(target_), target_before);
}

TEST_F(ApplyShootTest, RangeIsEuclideanAndInclusive) {
  struct Case {
    GridPosition at;
    bool in_range;
  };
  const Case cases[] = {
      {{10, 0}, true},                   // Exactly range.
      {{11, 0}, false},                  // One beyond.
      {{6, 8}, true},                    // Distance 10, Manhattan 14.
      {{7, 8}, false},                   // Distance 10.6.
      {{0, 10}, true},  {{0, 0}, true},  // Same cell.
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::PrintToString(c.at));
    shooter_.Spawn({0, 0}, 0, 100);
    target_.Spawn(c.at, 0, 100);
    const ShootResult result = Shoot(1, t0_, 1);
    if (c.in_range) {
      EXPECT_TRUE(result.accepted());
      EXPECT_EQ(target_.health, 80);
    } else {
      ExpectRejected(result, InputRejection::kTargetOutOfRange);
      EXPECT_EQ(target_.health, 100);
      EXPECT_EQ(shooter_.last_shot_tick, -1);
    }
  }
}

TEST_F(ApplyShootTest, HitsWhereTheTargetWasAtTheShotTickNotWhereItIsNow) {
  // Target at (5, 0) until tick 10, then (15, 0): out of range now.
  MovePeer(target_, 10, 10, 0);
  ASSERT_EQ(target_.position, (GridPosition{15, 0}));

  // At tick 10 the target was already out of range.
  const Snapshot shooter_before = Take(shooter_);
  const Snapshot target_before = Take(target_);
  ExpectRejected(Shoot(12, t0_, 10), InputRejection::kTargetOutOfRange);
  EXPECT_EQ(Take(shooter_), shooter_before);
  EXPECT_EQ(Take(target_), target_before);

  // At tick 9, rewound, it was in range: a hit.
  const ShootResult hit = Shoot(12, t0_, 9);
  EXPECT_TRUE(hit.accepted());
  EXPECT_EQ(target_.health, 80);
  EXPECT_EQ(target_.position, (GridPosition{15, 0}));  // Not moved back.
}

TEST_F(ApplyShootTest, MissesWhereTheTargetWasAtTheShotTickThoughInRangeNow) {
  // Target at (20, 0) until tick 10, then (10, 0): in range now.
  target_.Spawn({20, 0}, 0, 100);
  MovePeer(target_, 10, -10, 0);
  ASSERT_EQ(target_.position, (GridPosition{10, 0}));

  const Snapshot target_before = Take(target_);
  ExpectRejected(Shoot(12, t0_, 9), InputRejection::kTargetOutOfRange);
  EXPECT_EQ(Take(target_), target_before);

  EXPECT_TRUE(Shoot(12, t0_, 10).accepted());
  EXPECT_EQ(target_.health, 80);
}

TEST_F(ApplyShootTest, UsesTheShootersOwnPositionAtTheShotTick) {
  // Target stands at (18, 0); the shooter walks from (0, 0) to (10, 0) at
  // tick 10.
  target_.Spawn({18, 0}, 0, 100);
  MovePeer(shooter_, 10, 10, 0);
  ExpectRejected(Shoot(12, t0_, 9), InputRejection::kTargetOutOfRange);
  EXPECT_TRUE(Shoot(12, t0_, 10).accepted());
}

TEST_F(ApplyShootTest, TargetWithNoPositionAtTheShotTickIsOutOfRange) {
  // The target spawned (next to the shooter) only at tick 8.
  target_.Spawn({1, 0}, 8, 100);
  const Snapshot target_before = Take(target_);
  ExpectRejected(Shoot(10, t0_, 7), InputRejection::kTargetOutOfRange);
  EXPECT_EQ(Take(target_), target_before);
  EXPECT_TRUE(Shoot(10, t0_, 8).accepted());
}

TEST_F(ApplyShootTest, ShooterWithNoPositionAtTheShotTickCannotHit) {
  shooter_.Spawn({0, 0}, 8, 100);
  ExpectRejected(Shoot(10, t0_, 7), InputRejection::kTargetOutOfRange);
  EXPECT_EQ(shooter_.last_shot_tick, -1);
  EXPECT_TRUE(Shoot(10, t0_, 8).accepted());
}

TEST_F(ApplyShootTest, ARejectedShotNeitherStartsCooldownNorUsesItsTick) {
  target_.Spawn({30, 0}, 0, 100);  // Out of range.
  ExpectRejected(Shoot(10, t0_, 10), InputRejection::kTargetOutOfRange);
  target_.Spawn({3, 0}, 0, 100);
  // Same instant and same tick: neither cooldown nor staleness applies.
  EXPECT_TRUE(Shoot(10, t0_, 10).accepted());
}

TEST_F(ApplyShootTest, ChecksRunInTheDocumentedOrder) {
  // A shot that is both stale and on cooldown and at an unknown target is
  // reported as stale; one on cooldown at an unknown target as cooldown.
  ASSERT_TRUE(Shoot(10, t0_, 10).accepted());
  EXPECT_EQ(ShootAt(10, t0_, 10, ShotTarget{}).rejection,
            InputRejection::kStaleTick);
  EXPECT_EQ(ShootAt(10, t0_, 11, ShotTarget{}).rejection,
            InputRejection::kFireCooldown);
  const absl::Time later = t0_ + absl::Seconds(1);
  EXPECT_EQ(ShootAt(10, later, 11, ShotTarget{&shooter_, true, true}).rejection,
            InputRejection::kSelfTarget);
  EXPECT_EQ(ShootAt(10, later, 11, ShotTarget{}).rejection,
            InputRejection::kUnknownTarget);
}

TEST_F(ApplyShootTest, HistoryCoversTheWholeShotWindowAtTheValidatedLimit) {
  // rewind 10 + ahead 4 + 2 = kCapacity: the largest window Validate allows.
  rules_.combat.max_rewind = absl::Milliseconds(500);
  rules_.world.max_ticks_ahead = 4;
  ASSERT_TRUE(rules_.Validate().ok());
  rules_.combat.range = 0;  // A hit only from the same cell.
  rules_.combat.fire_cooldown = absl::ZeroDuration();
  rules_.combat.damage = 1;
  const int64_t server_tick = 30;
  // The target walks one cell per tick but skips the oldest window tick, so
  // the record in force there is one older still.
  target_.Spawn({0, 0}, 0, 100);
  for (int64_t tick = 1; tick <= server_tick + 4; ++tick) {
    if (tick == server_tick - 10) continue;
    ASSERT_TRUE(ApplyMove(rules_, server_tick, MoveInput{tick, 1, 0}, target_)
                    .accepted());
  }
  for (int64_t tick = server_tick - 10; tick <= server_tick + 4; ++tick) {
    SCOPED_TRACE(tick);
    const std::optional<GridPosition> at = target_.history.At(tick);
    ASSERT_TRUE(at.has_value());
    // The shooter stands where the target stood at that tick.
    shooter_.Spawn(*at, 0, 100);
    shooter_.last_shot_tick = tick - 1;
    EXPECT_TRUE(Shoot(server_tick, t0_, tick).accepted());
  }
}

}  // namespace
}  // namespace gss
