// Tests of the per-peer token bucket with a hand-driven clock.
#include "gateway/rate_limiter.h"

#include "gtest/gtest.h"

namespace gss::gateway {
namespace {

using std::chrono::milliseconds;
using TimePoint = TokenBucket::TimePoint;

const TimePoint kStart = TimePoint() + std::chrono::hours(1);

TEST(TokenBucketTest, StartsFullAndAllowsTheBurst) {
  TokenBucket bucket(/*rate_per_second=*/10, /*burst=*/5, kStart);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(bucket.TryTake(kStart)) << i;
  EXPECT_FALSE(bucket.TryTake(kStart));
}

TEST(TokenBucketTest, RefillsAtTheRate) {
  TokenBucket bucket(10, 5, kStart);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(bucket.TryTake(kStart));
  EXPECT_FALSE(bucket.TryTake(kStart + milliseconds(99)));
  EXPECT_TRUE(bucket.TryTake(kStart + milliseconds(100)));
  EXPECT_FALSE(bucket.TryTake(kStart + milliseconds(100)));
  EXPECT_TRUE(bucket.TryTake(kStart + milliseconds(200)));
}

TEST(TokenBucketTest, NeverHoldsMoreThanTheBurst) {
  TokenBucket bucket(10, 5, kStart);
  const TimePoint later = kStart + std::chrono::hours(1);
  EXPECT_DOUBLE_EQ(bucket.tokens(later), 5);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(bucket.TryTake(later));
  EXPECT_FALSE(bucket.TryTake(later));
}

TEST(TokenBucketTest, SustainedRateIsAcceptedAndDoubleIsHalved) {
  TokenBucket steady(100, 1, kStart);
  int accepted = 0;
  for (int i = 1; i <= 1000; ++i) {
    accepted += steady.TryTake(kStart + milliseconds(10 * i));
  }
  EXPECT_EQ(accepted, 1000);

  TokenBucket flooded(100, 1, kStart);
  accepted = 0;
  for (int i = 1; i <= 2000; ++i) {
    accepted += flooded.TryTake(kStart + std::chrono::microseconds(5000 * i));
  }
  EXPECT_NEAR(accepted, 1000, 2);
}

TEST(TokenBucketTest, TimeGoingBackwardsAddsNothing) {
  TokenBucket bucket(10, 2, kStart);
  ASSERT_TRUE(bucket.TryTake(kStart));
  ASSERT_TRUE(bucket.TryTake(kStart));
  EXPECT_FALSE(bucket.TryTake(kStart - std::chrono::seconds(10)));
  EXPECT_FALSE(bucket.TryTake(kStart));
  EXPECT_TRUE(bucket.TryTake(kStart + milliseconds(100)));
}

TEST(TokenBucketTest, CostsMoreThanOne) {
  TokenBucket bucket(10, 5, kStart);
  EXPECT_TRUE(bucket.TryTake(kStart, 3));
  EXPECT_FALSE(bucket.TryTake(kStart, 3));
  EXPECT_TRUE(bucket.TryTake(kStart, 2));
}

}  // namespace
}  // namespace gss::gateway
