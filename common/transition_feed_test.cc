#include "common/transition_feed.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"

namespace gss {
namespace {

SessionTransition Of(uint64_t session, uint32_t sequence) {
  SessionTransition transition;
  transition.session.value = session;
  transition.sequence = sequence;
  return transition;
}

std::shared_ptr<TransitionSubscription> Subscription(size_t capacity,
                                                     int* woken = nullptr) {
  return std::make_shared<TransitionSubscription>(capacity, [woken] {
    if (woken != nullptr) ++*woken;
  });
}

TEST(TransitionFeedTest, EveryoneSeesAllAndASessionsWatcherOnlyItsOwn) {
  TransitionFeed feed;
  auto all = Subscription(8);
  auto one = Subscription(8);
  feed.Watch(all);
  feed.WatchSession(7, one);
  TransitionFeed::Ready ready;
  feed.Publish(Of(7, 1), ready);
  feed.Publish(Of(8, 1), ready);
  feed.Publish(Of(7, 2), ready);
  // Each queue went from empty to non-empty once.
  EXPECT_EQ(ready.size(), 2u);
  TransitionSubscription::Delivery everything = all->Take();
  ASSERT_EQ(everything.transitions.size(), 3u);
  EXPECT_EQ(everything.transitions[1].session.value, 8u);
  TransitionSubscription::Delivery own = one->Take();
  ASSERT_EQ(own.transitions.size(), 2u);
  EXPECT_EQ(own.transitions[0].sequence, 1u);
  EXPECT_EQ(own.transitions[1].sequence, 2u);
  EXPECT_FALSE(own.ended);
}

TEST(TransitionFeedTest, AFullQueueDropsItsOldestAndCountsThem) {
  TransitionFeed feed;
  auto slow = Subscription(2);
  feed.Watch(slow);
  TransitionFeed::Ready ready;
  for (uint32_t i = 1; i <= 5; ++i) feed.Publish(Of(1, i), ready);
  EXPECT_EQ(ready.size(), 1u);  // Woken once: the reader had not taken yet.
  TransitionSubscription::Delivery delivery = slow->Take();
  EXPECT_EQ(delivery.lost, 3u);
  ASSERT_EQ(delivery.transitions.size(), 2u);
  EXPECT_EQ(delivery.transitions[0].sequence, 4u);
  EXPECT_EQ(delivery.transitions[1].sequence, 5u);
  EXPECT_EQ(slow->Take().lost, 0u);
  EXPECT_EQ(slow->total_lost(), 3u);
}

TEST(TransitionFeedTest, ASessionsEndReachesItsWatchersAfterItsLastTransition) {
  TransitionFeed feed;
  auto caught_up = Subscription(8);
  auto behind = Subscription(8);
  feed.WatchSession(3, caught_up);
  feed.WatchSession(3, behind);
  TransitionFeed::Ready ready;
  feed.Publish(Of(3, 1), ready);
  feed.Publish(Of(3, 2), ready);  // The closing transition.
  ASSERT_EQ(caught_up->Take().transitions.size(), 2u);
  ready.clear();
  feed.EndSession(3, ready);
  // Only the reader with nothing left to take must be woken for the end;
  // the other, already woken for its queued items, learns of the end with
  // its next Take.
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0], caught_up);
  TransitionSubscription::Delivery last = behind->Take();
  EXPECT_EQ(last.transitions.size(), 2u);
  EXPECT_TRUE(last.ended);
  EXPECT_TRUE(caught_up->Take().ended);
  // Nothing reaches an ended subscription.
  ready.clear();
  feed.Publish(Of(3, 3), ready);
  EXPECT_TRUE(ready.empty());
}

TEST(TransitionFeedTest, ADroppedSubscriptionIsForgottenAndNotifyRunsOnReady) {
  TransitionFeed feed;
  int woken = 0;
  auto kept = Subscription(4, &woken);
  feed.Watch(kept);
  feed.Watch(Subscription(4));  // Its reader let go at once.
  TransitionFeed::Ready ready;
  feed.Publish(Of(1, 1), ready);
  ASSERT_EQ(ready.size(), 1u);
  for (const auto& subscription : ready) subscription->NotifyReady();
  EXPECT_EQ(woken, 1);
}

}  // namespace
}  // namespace gss
