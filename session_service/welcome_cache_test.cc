#include "session_service/welcome_cache.h"

#include "gtest/gtest.h"

namespace gss {
namespace {

RemoteIdentity Connection(uint32_t gateway, uint64_t connection) {
  return RemoteIdentity{gateway, connection, {}};
}

TEST(WelcomeCacheTest, TheRequestThatEarnedAWelcomeGetsItAgain) {
  WelcomeCache cache;
  cache.Remember(Connection(1, 7), "alice", "welcome-a");
  EXPECT_EQ(cache.Find(Connection(1, 7), "alice"), "welcome-a");
  // The same again: a repeat is answered as often as it comes.
  EXPECT_EQ(cache.Find(Connection(1, 7), "alice"), "welcome-a");
}

TEST(WelcomeCacheTest, AnotherRequestOrConnectionGetsNothing) {
  WelcomeCache cache;
  cache.Remember(Connection(1, 7), "alice", "welcome-a");
  EXPECT_EQ(cache.Find(Connection(1, 7), "mallory"), std::nullopt);
  EXPECT_EQ(cache.Find(Connection(1, 8), "alice"), std::nullopt);
  // The same connection id on another gateway is another connection.
  EXPECT_EQ(cache.Find(Connection(2, 7), "alice"), std::nullopt);
}

TEST(WelcomeCacheTest, ALaterWelcomeReplacesAndForgetRemoves) {
  WelcomeCache cache;
  cache.Remember(Connection(1, 7), "token-1", "welcome-1");
  cache.Remember(Connection(1, 7), "token-2", "welcome-2");
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.Find(Connection(1, 7), "token-1"), std::nullopt);
  EXPECT_EQ(cache.Find(Connection(1, 7), "token-2"), "welcome-2");
  cache.Forget(Connection(1, 7));
  EXPECT_EQ(cache.Find(Connection(1, 7), "token-2"), std::nullopt);
  EXPECT_EQ(cache.size(), 0u);
  cache.Forget(Connection(1, 7));  // Forgetting twice changes nothing.
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace gss
