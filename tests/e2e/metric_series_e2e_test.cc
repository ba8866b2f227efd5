// End-to-end: the number of metric series either process exposes does not
// grow with sessions or players (no per-peer labels, nothing created per
// session): counted with 10 sessions and again with 10,000.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/cluster.h"
#include "tests/support/process.h"
#include "tests/support/prometheus_text.h"
#include "tests/support/test_macros.h"

namespace gss::testing {
namespace {

struct SeriesCounts {
  int service = 0;
  int gateway = 0;
};

absl::StatusOr<SeriesCounts> CountBoth(Cluster& cluster) {
  auto service = ScrapeMetrics(cluster.service_metrics_port());
  if (!service.ok()) return service.status();
  auto gateway = ScrapeMetrics(cluster.gateway_metrics_port());
  if (!gateway.ok()) return gateway.status();
  return SeriesCounts{.service = CountSeries(*service, "gss_"),
                      .gateway = CountSeries(*gateway, "gss_")};
}

// Waits until the service holds `count` active sessions.
absl::Status WaitForActiveSessions(Cluster& cluster, double count,
                                   absl::Duration timeout) {
  double active = -1;
  if (WaitFor(
          [&] {
            auto samples = ScrapeMetrics(cluster.service_metrics_port());
            if (!samples.ok()) return false;
            active =
                SumSamples(*samples, "gss_sessions", {{"state", "active"}});
            return active == count;
          },
          timeout, absl::Milliseconds(200))) {
    return absl::OkStatus();
  }
  return absl::DeadlineExceededError(
      absl::StrCat("active sessions ", active, ", waiting for ", count));
}

// Idle players that only heartbeat, for as long as the test needs them.
absl::StatusOr<std::unique_ptr<Process>> StartIdlers(
    Cluster& cluster, int players, const std::string& prefix) {
  Process::Options run;
  run.binary = GSS_LOADGEN_BINARY;
  run.name = absl::StrCat("loadgen_", prefix);
  run.log_dir = cluster.dir();
  run.args = {absl::StrCat("--target=127.0.0.1:", cluster.game_port()),
              "--transport=udp",
              absl::StrCat("--players=", players),
              "--mix=idlers=100",
              "--ramp=5000",
              "--heartbeat=2s",
              "--duration=300s",
              "--progress=false",
              absl::StrCat("--name_prefix=", prefix)};
  return Process::Start(run);
}

TEST(MetricSeriesTest, SeriesCountIsTheSameAtTenAndTenThousandSessions) {
  constexpr int kFew = 10;
  constexpr int kMany = 10000;
  // One UDP socket per simulated player in the load generator.
  ASSERT_OK_AND_ASSIGN(uint64_t fd_limit, RaiseFileLimit(1 << 16));
  ASSERT_GE(fd_limit, kMany + 1000u) << "RLIMIT_NOFILE too low for this test";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cluster> cluster,
                       Cluster::Start(ClusterOptions()));

  ASSERT_OK_AND_ASSIGN(auto few, StartIdlers(*cluster, kFew, "few"));
  ASSERT_OK(WaitForActiveSessions(*cluster, kFew, absl::Seconds(30)));
  ASSERT_OK_AND_ASSIGN(SeriesCounts at_few, CountBoth(*cluster));

  ASSERT_OK_AND_ASSIGN(auto many, StartIdlers(*cluster, kMany - kFew, "many"));
  ASSERT_OK(WaitForActiveSessions(*cluster, kMany, absl::Seconds(120)));
  ASSERT_OK_AND_ASSIGN(SeriesCounts at_many, CountBoth(*cluster));

  EXPECT_GT(at_few.service, 0);
  EXPECT_GT(at_few.gateway, 0);
  EXPECT_EQ(at_many.service, at_few.service);
  EXPECT_EQ(at_many.gateway, at_few.gateway);
  std::cout << "series: service " << at_few.service << " at " << kFew << ", "
            << at_many.service << " at " << kMany << "; gateway "
            << at_few.gateway << " and " << at_many.gateway << "\n";
  ASSERT_OK_AND_ASSIGN(auto gateway,
                       ScrapeMetrics(cluster->gateway_metrics_port()));
  EXPECT_EQ(SumSamples(gateway, "gss_gateway_peers"), kMany);
  EXPECT_TRUE(few->Running()) << few->LogTail();
  EXPECT_TRUE(many->Running()) << many->LogTail();
}

}  // namespace
}  // namespace gss::testing
