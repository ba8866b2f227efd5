// Smoke test of the load generator: a short, small run over UDP and TCP
// against a real cluster; the JSON report must parse and add up.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/support/cluster.h"
#include "tests/support/process.h"
#include "tests/support/test_macros.h"

namespace gss::testing {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

double Number(const Struct& report, const std::string& key) {
  auto it = report.fields().find(key);
  if (it == report.fields().end()) {
    ADD_FAILURE() << "report has no '" << key << "'";
    return -1;
  }
  return it->second.number_value();
}

class LoadgenSmokeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(LoadgenSmokeTest, RunsAndReports) {
  ClusterOptions options;
  // Vanished players must time out within the run.
  options.service_flags = FastLivenessFlags();
  ASSERT_OK_AND_ASSIGN(auto cluster, Cluster::Start(options));

  constexpr int kPlayers = 50;
  Process::Options run;
  run.binary = GSS_LOADGEN_BINARY;
  run.name = absl::StrCat("loadgen_", GetParam());
  run.log_dir = cluster->dir();
  run.args = {absl::StrCat("--target=127.0.0.1:", cluster->game_port()),
              absl::StrCat("--transport=", GetParam()),
              absl::StrCat("--players=", kPlayers), "--rate=20", "--ramp=500",
              "--duration=2s",
              // Faster than the 600 ms liveness timeout of the cluster.
              "--heartbeat=200ms",
              "--mix=movers=40,shooters=20,idlers=10,vanish=10,resume=10,"
              "malformed=10",
              absl::StrCat("--ops_target=", cluster->ops_address()),
              absl::StrCat("--ops_token_file=", cluster->reader_token_file()),
              "--ops_rate=20", "--json"};
  ASSERT_OK_AND_ASSIGN(auto loadgen, Process::Start(run));
  ASSERT_OK_AND_ASSIGN(ExitStatus exit,
                       loadgen->WaitForExit(absl::Seconds(60)));
  ASSERT_TRUE(exit.exited && exit.code == 0) << exit.ToString() << "\n"
                                             << loadgen->LogTail();

  Struct report;
  const std::string json = loadgen->ReadStdout();
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &report).ok())
      << json;
  EXPECT_EQ(Number(report, "players"), kPlayers);
  EXPECT_EQ(Number(report, "logins_ok"), kPlayers) << loadgen->LogTail();
  EXPECT_GT(Number(report, "inputs_acknowledged"), 0);
  EXPECT_GT(Number(report, "pongs"), 0);
  const auto& rejections = report.fields().at("rejections").struct_value();
  ASSERT_TRUE(rejections.fields().contains("malformed")) << json;
  EXPECT_GT(rejections.fields().at("malformed").number_value(), 0);
  EXPECT_GT(Number(report, "resumes_ok"), 0) << json;
  EXPECT_EQ(Number(report, "resumes_failed"), 0) << json;
  EXPECT_GT(Number(report, "vanished"), 0) << json;
  const auto& latency = report.fields().at("latency_us").struct_value();
  EXPECT_GT(latency.fields().at("count").number_value(), 0);
  EXPECT_GT(latency.fields().at("p99").number_value(), 0);
  EXPECT_GT(report.fields()
                .at("ops")
                .struct_value()
                .fields()
                .at("list_ok")
                .number_value(),
            0);

  // Both processes survived the malformed traffic and still answer.
  EXPECT_TRUE(cluster->service()->Running());
  EXPECT_TRUE(cluster->gateway()->Running());
  EXPECT_OK(cluster->ops().GetServerInfo());
}

// A send grid outside 0..100ms is refused before any player starts.
TEST(LoadgenFlagsTest, RejectsASendTickOutOfRange) {
  for (const char* tick : {"-1ms", "101ms"}) {
    Process::Options run;
    run.binary = GSS_LOADGEN_BINARY;
    run.name = "loadgen_bad_tick";
    run.log_dir = ::testing::TempDir();
    // Nothing listens there: a run that started would count transport errors
    // and exit 0, not 2.
    run.args = {"--target=127.0.0.1:9", "--players=1", "--duration=1s",
                absl::StrCat("--send_tick=", tick)};
    ASSERT_OK_AND_ASSIGN(auto loadgen, Process::Start(run));
    ASSERT_OK_AND_ASSIGN(ExitStatus exit,
                         loadgen->WaitForExit(absl::Seconds(30)));
    EXPECT_TRUE(exit.exited && exit.code == 2)
        << tick << ": " << exit.ToString();
    EXPECT_NE(loadgen->ReadStderr().find("0 <= --send_tick <= 100ms"),
              std::string::npos)
        << loadgen->ReadStderr();
  }
}

INSTANTIATE_TEST_SUITE_P(Transports, LoadgenSmokeTest,
                         ::testing::Values("udp", "tcp"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace gss::testing
