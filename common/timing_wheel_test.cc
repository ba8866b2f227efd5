#include "common/timing_wheel.h"

#include <cstdint>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gss {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// The owner's side: records with an embedded node, by slot id.
class WheelTest : public ::testing::Test {
 protected:
  static constexpr int kSlots = 8;

  WheelTest() : nodes_(100), wheel_(kSlots, /*start_tick=*/0) {}

  auto NodeOf() {
    return [this](uint32_t slot) -> TimerNode& { return nodes_[slot]; };
  }
  void Arm(uint32_t slot, int64_t tick) {
    wheel_.ArmNoLaterThan(slot, tick, NodeOf());
  }
  void Disarm(uint32_t slot) { wheel_.Disarm(slot, NodeOf()); }
  // The slots fired by advancing to `tick`.
  std::vector<uint32_t> AdvanceTo(int64_t tick) {
    std::vector<uint32_t> fired;
    wheel_.Advance(tick, NodeOf(), [&](uint32_t slot) {
      EXPECT_FALSE(nodes_[slot].armed) << "fired while still armed";
      fired.push_back(slot);
    });
    return fired;
  }

  std::vector<TimerNode> nodes_;
  TimingWheel wheel_;
};

TEST_F(WheelTest, TimersFireAtTheirTickAndOnlyOnce) {
  Arm(1, 3);
  Arm(2, 3);
  Arm(3, 5);
  EXPECT_THAT(AdvanceTo(2), IsEmpty());
  EXPECT_THAT(AdvanceTo(3), UnorderedElementsAre(1, 2));
  EXPECT_THAT(AdvanceTo(4), IsEmpty());
  EXPECT_THAT(AdvanceTo(9), ElementsAre(3));
  EXPECT_THAT(AdvanceTo(20), IsEmpty());
  EXPECT_EQ(wheel_.current_tick(), 20);
}

TEST_F(WheelTest, APastTickFiresAtTheNextAdvance) {
  ASSERT_THAT(AdvanceTo(10), IsEmpty());
  Arm(4, 2);  // Long past: it fires at tick 11.
  EXPECT_EQ(nodes_[4].tick, 11);
  EXPECT_THAT(AdvanceTo(11), ElementsAre(4));
}

TEST_F(WheelTest, ArmingLaterKeepsTheEarlierTickAndEarlierMovesIt) {
  Arm(1, 4);
  Arm(1, 6);  // Later: kept at 4 (the owner corrects it when it fires).
  EXPECT_EQ(nodes_[1].tick, 4);
  Arm(1, 2);  // Earlier: moved.
  EXPECT_EQ(nodes_[1].tick, 2);
  EXPECT_THAT(AdvanceTo(2), ElementsAre(1));
  EXPECT_THAT(AdvanceTo(6), IsEmpty());
}

TEST_F(WheelTest, DisarmedTimersDoNotFireAndTheirNeighboursStillDo) {
  // Three in one slot's list: take out the middle, then the head.
  Arm(1, 3);
  Arm(2, 3);
  Arm(3, 3);
  Disarm(2);
  Disarm(3);
  Disarm(3);  // Twice: nothing.
  EXPECT_FALSE(nodes_[2].armed);
  EXPECT_THAT(AdvanceTo(3), ElementsAre(1));
}

TEST_F(WheelTest, DeadlinesBeyondOneTurnWaitForTheirTurn) {
  Arm(1, 2);
  Arm(2, 2 + kSlots);      // Same slot, next turn.
  Arm(3, 2 + 3 * kSlots);  // Same slot, three turns on.
  EXPECT_THAT(AdvanceTo(2), ElementsAre(1));
  EXPECT_THAT(AdvanceTo(1 + kSlots), IsEmpty());
  EXPECT_THAT(AdvanceTo(2 + kSlots), ElementsAre(2));
  EXPECT_THAT(AdvanceTo(1 + 3 * kSlots), IsEmpty());
  EXPECT_THAT(AdvanceTo(2 + 3 * kSlots), ElementsAre(3));
}

TEST_F(WheelTest, ALongPauseVisitsEverySlotOnceAndFiresAllThatAreDue) {
  for (uint32_t slot = 0; slot < 20; ++slot) Arm(slot, 1 + slot);
  Arm(50, 1000);
  std::vector<uint32_t> fired = AdvanceTo(500);
  EXPECT_EQ(fired.size(), 20u);
  EXPECT_TRUE(nodes_[50].armed);
  EXPECT_THAT(AdvanceTo(1000), ElementsAre(50));
}

TEST_F(WheelTest, AFiredTimerMayBeArmedAgainFromItsCallback) {
  Arm(7, 1);
  int fired = 0;
  for (int64_t tick = 1; tick <= 5; ++tick) {
    wheel_.Advance(tick, NodeOf(), [&](uint32_t slot) {
      ++fired;
      wheel_.ArmNoLaterThan(slot, tick + 1, NodeOf());
    });
  }
  EXPECT_EQ(fired, 5);
  EXPECT_TRUE(nodes_[7].armed);
  EXPECT_EQ(nodes_[7].tick, 6);
}

}  // namespace
}  // namespace gss
