// End-to-end: many peers shooting each other at once from their own threads
// (targets spread over the service's shards): every hit is applied exactly
// once, reported once to its target, and the processes stay responsive.
#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "tests/support/cluster.h"
#include "tests/support/game_test_client.h"
#include "tests/support/ops_client.h"
#include "tests/support/test_macros.h"

namespace gss::testing {
namespace {

using game::v1::ServerMessage;

constexpr int kPeers = 24;
constexpr int kMaxHealth = 100000;  // Nobody is eliminated: every hit counts.
// Refusals that depend only on timing, which a loaded machine may cause.
const std::set<std::string> kTimingRejections = {
    "fire_cooldown", "stale_tick", "outside_lag_window", "tick_too_far_ahead"};

TEST(ConcurrencyTest, ConcurrentCrossShardHitsAreEachAppliedOnce) {
  ClusterOptions options;
  // 10 ms ticks and cooldown; lag window 10 ticks + 4 ahead + 2 = 16.
  options.service_flags = {"--movement_tick=10ms",
                           "--max_rewind=100ms",
                           "--max_ticks_ahead=4",
                           "--fire_cooldown=10ms",
                           "--shot_range=100",
                           "--shot_damage=1",
                           absl::StrCat("--max_health=", kMaxHealth)};
  options.gateway_flags = {"--peer_rate=1000", "--peer_burst=1000"};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cluster> cluster,
                       Cluster::Start(options));
  std::vector<std::unique_ptr<GameTestClient>> peers;
  std::vector<std::string> ids;
  for (int i = 0; i < kPeers; ++i) {
    // Mostly TCP, so that every HitReceived can be counted; some UDP.
    const Transport transport = i % 4 == 3 ? Transport::kUdp : Transport::kTcp;
    ASSERT_OK_AND_ASSIGN(
        auto peer, GameTestClient::Connect(transport, cluster->game_port()));
    ASSERT_OK_AND_ASSIGN(game::v1::Welcome welcome,
                         peer->Login(absl::StrCat("gunner-", i)));
    ids.push_back(welcome.session_id());
    peers.push_back(std::move(peer));
  }
  // Every peer has spawned by the last welcome's tick.
  const int64_t first_tick = peers.back()->EstimatedServerTick();

  absl::Mutex mutex;
  // target index -> target_health values reported to shooters.
  std::map<int, std::vector<int32_t>> reported;  // Guarded by mutex.
  std::vector<std::string> errors;               // Guarded by mutex.
  std::atomic<int> accepted_total{0};
  const absl::Time stop_at = absl::Now() + absl::Milliseconds(1500);
  std::vector<std::thread> threads;
  for (int i = 0; i < kPeers; ++i) {
    threads.emplace_back([&, i] {
      GameTestClient& peer = *peers[i];
      std::mt19937 random(i);
      int64_t last_tick = first_tick - 1;
      while (absl::Now() < stop_at) {
        const int64_t estimate =
            std::max(first_tick, peer.EstimatedServerTick());
        const int64_t tick = std::max(estimate, last_tick + 1);
        if (tick > estimate + 3) {
          absl::StatusOr<game::v1::Pong> pong = peer.Ping();  // Paces.
          if (!pong.ok()) {
            absl::MutexLock lock(&mutex);
            errors.push_back(
                absl::StrCat(i, " ping: ", pong.status().ToString()));
            return;
          }
          continue;
        }
        int target = static_cast<int>(random() % (kPeers - 1));
        if (target >= i) ++target;
        absl::StatusOr<game::v1::ShootResult> shot =
            peer.Shoot(tick, ids[target]);
        if (!shot.ok()) {
          absl::MutexLock lock(&mutex);
          errors.push_back(
              absl::StrCat(i, " shoot: ", shot.status().ToString()));
          return;
        }
        if (shot->accepted()) {
          last_tick = tick;
          accepted_total.fetch_add(1);
          absl::MutexLock lock(&mutex);
          reported[target].push_back(shot->target_health());
        } else if (!kTimingRejections.contains(shot->rejection())) {
          absl::MutexLock lock(&mutex);
          errors.push_back(absl::StrCat(i, " unexpected rejection ",
                                        shot->rejection(), " at tick ", tick));
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_TRUE(errors.empty())
      << errors.front() << " (and " << errors.size() - 1 << " more)";
  EXPECT_GT(accepted_total.load(), kPeers * 5) << "too few hits to judge";

  // Hits on one target were applied one at a time: the healths reported to
  // its shooters are exactly max-1, max-2, ..., max-n.
  for (int target = 0; target < kPeers; ++target) {
    SCOPED_TRACE(absl::StrCat("target ", target, " ", ids[target]));
    const std::vector<int32_t>& values = reported[target];
    std::set<int32_t> distinct(values.begin(), values.end());
    EXPECT_EQ(distinct.size(), values.size()) << "a health reported twice";
    const int hits = static_cast<int>(values.size());
    if (hits > 0) {
      EXPECT_EQ(*distinct.begin(), kMaxHealth - hits);
      EXPECT_EQ(*distinct.rbegin(), kMaxHealth - 1);
    }
    ASSERT_OK_AND_ASSIGN(ops::v1::Session session,
                         cluster->ops().GetSession(ids[target]));
    EXPECT_EQ(session.health(), kMaxHealth - hits);
    EXPECT_EQ(session.state(), ops::v1::SESSION_STATE_ACTIVE);
    // TCP targets were told of every hit, once.
    if (peers[target]->transport() == Transport::kTcp) {
      ASSERT_OK(peers[target]->Ping());  // Anything sent before is in.
      int told = 0;
      for (const ServerMessage& m : peers[target]->inbox()) {
        if (m.has_hit_received()) ++told;
      }
      EXPECT_EQ(told, hits);
    }
  }
  EXPECT_TRUE(cluster->service()->Running());
  EXPECT_TRUE(cluster->gateway()->Running());
  EXPECT_OK(cluster->ops().GetServerInfo());
}

}  // namespace
}  // namespace gss::testing
