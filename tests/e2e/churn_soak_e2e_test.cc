// End-to-end churn soak, bounded in time: rounds of simulated players log in,
// move, vanish and time out, drop and resume, while an operator evicts
// sessions at random. Afterwards both processes must be back where they
// started: no session or peer left, resident memory within a stated
// tolerance of the baseline taken after a warm-up round.
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/cluster.h"
#include "tests/support/ops_client.h"
#include "tests/support/process.h"
#include "tests/support/prometheus_text.h"
#include "tests/support/test_macros.h"

namespace gss::testing {
namespace {

// GSS_SOAK_SECONDS overrides the default length of the churn phase.
absl::Duration SoakDuration() {
  const char* text = std::getenv("GSS_SOAK_SECONDS");
  int seconds = 0;
  if (text != nullptr && absl::SimpleAtoi(text, &seconds) && seconds > 0) {
    return absl::Seconds(seconds);
  }
  return absl::Seconds(60);
}

constexpr int kPlayersPerRound = 800;

// One round of the load generator: every behaviour that creates and ends
// sessions, with heartbeats well inside the cluster's liveness timeout.
absl::Status RunRound(Cluster& cluster, int round) {
  Process::Options run;
  run.binary = GSS_LOADGEN_BINARY;
  run.name = absl::StrCat("loadgen_round", round);
  run.log_dir = cluster.dir();
  run.args = {absl::StrCat("--target=127.0.0.1:", cluster.game_port()),
              round % 2 ? "--transport=tcp" : "--transport=udp",
              absl::StrCat("--players=", kPlayersPerRound),
              "--mix=movers=30,idlers=20,vanish=25,resume=25",
              "--rate=10",
              "--ramp=4000",
              "--heartbeat=100ms",
              "--duration=3s",
              "--progress=false",
              absl::StrCat("--name_prefix=round", round)};
  auto loadgen = Process::Start(run);
  if (!loadgen.ok()) return loadgen.status();
  auto exit = (*loadgen)->WaitForExit(absl::Seconds(60));
  if (!exit.ok()) return exit.status();
  if (!exit->exited || exit->code != 0) {
    return absl::InternalError(absl::StrCat("loadgen round ", round, ": ",
                                            exit->ToString(), "\n",
                                            (*loadgen)->LogTail()));
  }
  return absl::OkStatus();
}

struct Footprint {
  double sessions = 0;
  double peers = 0;
  uint64_t service_rss = 0;
  uint64_t gateway_rss = 0;
};

absl::StatusOr<Footprint> Measure(Cluster& cluster) {
  auto service = ScrapeMetrics(cluster.service_metrics_port());
  if (!service.ok()) return service.status();
  auto gateway = ScrapeMetrics(cluster.gateway_metrics_port());
  if (!gateway.ok()) return gateway.status();
  auto service_rss = ResidentBytes(cluster.service()->pid());
  if (!service_rss.ok()) return service_rss.status();
  auto gateway_rss = ResidentBytes(cluster.gateway()->pid());
  if (!gateway_rss.ok()) return gateway_rss.status();
  return Footprint{.sessions = SumSamples(*service, "gss_sessions"),
                   .peers = SumSamples(*gateway, "gss_gateway_peers"),
                   .service_rss = *service_rss,
                   .gateway_rss = *gateway_rss};
}

// Waits until no session and no peer is left: vanished players time out,
// held sessions run out of grace.
absl::StatusOr<Footprint> WaitUntilEmpty(Cluster& cluster) {
  absl::StatusOr<Footprint> last = absl::UnavailableError("not measured");
  WaitFor(
      [&] {
        last = Measure(cluster);
        return last.ok() && last->sessions == 0 && last->peers == 0;
      },
      absl::Seconds(30), absl::Milliseconds(100));
  return last;
}

// Resident memory may settle a little above the warm baseline (allocator
// caches, gRPC buffers): the tolerance is 20% plus 16 MiB.
bool WithinTolerance(uint64_t baseline, uint64_t after) {
  return after <= baseline + baseline / 5 + (16u << 20);
}

TEST(ChurnSoakTest, CountsAndMemoryReturnToBaseline) {
  ASSERT_OK_AND_ASSIGN(uint64_t fd_limit, RaiseFileLimit(1 << 16));
  ASSERT_GE(fd_limit, 4096u);
  ClusterOptions options;
  options.service_flags = {"--suspect_after=200ms", "--liveness_timeout=400ms",
                           "--reconnect_grace=400ms",
                           "--advance_interval=10ms"};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cluster> cluster,
                       Cluster::Start(options));

  // Warm-up: the first round grows pools and caches that later rounds reuse.
  ASSERT_OK(RunRound(*cluster, 0));
  ASSERT_OK_AND_ASSIGN(Footprint baseline, WaitUntilEmpty(*cluster));
  ASSERT_EQ(baseline.sessions, 0);
  ASSERT_EQ(baseline.peers, 0);
  ASSERT_OK_AND_ASSIGN(auto metrics_before,
                       ScrapeMetrics(cluster->service_metrics_port()));

  // An operator evicting a random session every 20 ms meanwhile.
  std::atomic<bool> stop = false;
  std::atomic<int> evicted = 0;
  std::thread evictor([&] {
    OpsClient& ops = cluster->ops();
    std::mt19937 random(7);
    while (!stop.load()) {
      ops::v1::ListSessionsRequest list;
      list.set_page_size(50);
      list.add_states(ops::v1::SESSION_STATE_ACTIVE);
      auto listed = ops.ListSessions(list);
      if (listed.ok() && listed->sessions_size() > 0) {
        const auto& victim =
            listed->sessions(random() % listed->sessions_size());
        if (ops.EvictSession(victim.session_id(), "churn soak").ok()) {
          evicted.fetch_add(1);
        }
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  });
  const absl::Time end = absl::Now() + SoakDuration();
  int rounds = 0;
  absl::Status round_status;
  while (absl::Now() < end && round_status.ok()) {
    round_status = RunRound(*cluster, ++rounds);
  }
  stop = true;
  evictor.join();
  ASSERT_OK(round_status);

  ASSERT_OK_AND_ASSIGN(Footprint after, WaitUntilEmpty(*cluster));
  EXPECT_EQ(after.sessions, 0);
  EXPECT_EQ(after.peers, 0);
  if (kResidentMemoryIsMeaningful) {
    EXPECT_TRUE(WithinTolerance(baseline.service_rss, after.service_rss))
        << "service RSS " << baseline.service_rss << " -> "
        << after.service_rss;
    EXPECT_TRUE(WithinTolerance(baseline.gateway_rss, after.gateway_rss))
        << "gateway RSS " << baseline.gateway_rss << " -> "
        << after.gateway_rss;
  }

  // The churn was real: every way a session ends happened, many times.
  ASSERT_OK_AND_ASSIGN(auto metrics_after,
                       ScrapeMetrics(cluster->service_metrics_port()));
  auto delta = [&](const std::string& name,
                   const std::map<std::string, std::string>& labels) {
    return SumSamples(metrics_after, name, labels) -
           SumSamples(metrics_before, name, labels);
  };
  const double logins = delta("gss_logins_total", {{"outcome", "accepted"}});
  const double resumes = delta("gss_resumes_total", {{"outcome", "accepted"}});
  const double grace_expired =
      delta("gss_sessions_closed_total", {{"reason", "grace_expired"}});
  const double evictions =
      delta("gss_sessions_closed_total", {{"reason", "evicted"}});
  // At least one each; a UDP login repeated before its Welcome arrived is
  // answered (and counted) again.
  EXPECT_GE(logins, rounds * kPlayersPerRound);
  EXPECT_GT(resumes, 0);
  EXPECT_GT(grace_expired, 0);
  EXPECT_GT(evictions, 0);
  EXPECT_EQ(evictions, evicted.load());
  std::cout << "soak: " << rounds << " rounds in " << SoakDuration() << ": "
            << logins << " logins, " << resumes << " resumes, " << grace_expired
            << " grace expiries, " << evictions << " evictions; service RSS "
            << baseline.service_rss << " -> " << after.service_rss
            << ", gateway RSS " << baseline.gateway_rss << " -> "
            << after.gateway_rss << "\n";
}

}  // namespace
}  // namespace gss::testing
