#include "common/round_trip.h"

#include <cstdint>
#include <limits>

#include "gtest/gtest.h"

namespace gss {
namespace {

constexpr int64_t kNow = 1'700'000'000'000'000;

TEST(RoundTripFromEchoTest, SubtractsTheClientsHoldFromTheTimeSinceThePong) {
  EXPECT_EQ(RoundTripFromEcho(kNow, kNow - 5'000, 3'500),
            absl::Microseconds(1'500));
  EXPECT_EQ(RoundTripFromEcho(kNow, kNow - 5'000, 5'000), absl::ZeroDuration());
}

TEST(RoundTripFromEchoTest, AFirstPingEchoesNothing) {
  EXPECT_EQ(RoundTripFromEcho(kNow, 0, 0), std::nullopt);
}

TEST(RoundTripFromEchoTest, ImpossibleFiguresGiveNothing) {
  // A pong from the future, a negative hold, a hold longer than the gap.
  EXPECT_EQ(RoundTripFromEcho(kNow, kNow + 1, 0), std::nullopt);
  EXPECT_EQ(RoundTripFromEcho(kNow, kNow - 10, -1), std::nullopt);
  EXPECT_EQ(RoundTripFromEcho(kNow, kNow - 10, 11), std::nullopt);
  EXPECT_EQ(RoundTripFromEcho(kNow, -5, 0), std::nullopt);
}

TEST(RoundTripFromEchoTest, ImplausiblyLongRoundTripsGiveNothing) {
  const int64_t limit_us = absl::ToInt64Microseconds(kMaxPlausibleRtt);
  EXPECT_EQ(RoundTripFromEcho(kNow, kNow - limit_us, 0), kMaxPlausibleRtt);
  EXPECT_EQ(RoundTripFromEcho(kNow, kNow - limit_us - 1, 0), std::nullopt);
}

TEST(RoundTripFromEchoTest, ExtremeValuesDoNotOverflow) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  EXPECT_EQ(RoundTripFromEcho(kMax, 1, 0), std::nullopt);
  EXPECT_EQ(RoundTripFromEcho(kMax, 1, kMax), std::nullopt);
  EXPECT_EQ(RoundTripFromEcho(kMax, kMax, 0), absl::ZeroDuration());
  EXPECT_EQ(RoundTripFromEcho(kNow, kMin, kMin), std::nullopt);
  EXPECT_EQ(RoundTripFromEcho(kMin, 1, 0), std::nullopt);
}

}  // namespace
}  // namespace gss
