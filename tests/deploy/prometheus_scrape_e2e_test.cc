// Integration: a real Prometheus server scrapes session_service and the
// gateway on loopback; the test asserts through Prometheus' query API, and
// checks both /metrics outputs with `promtool check metrics`.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "tests/support/cluster.h"
#include "tests/support/game_test_client.h"
#include "tests/support/http_get.h"
#include "tests/support/process.h"
#include "tests/support/test_macros.h"

namespace gss::testing {
namespace {

std::string Tool(const char* env, const char* built_in) {
  const char* value = std::getenv(env);
  return value != nullptr && *value != '\0' ? value : built_in;
}
std::string PrometheusBinary() {
  return Tool("GSS_PROMETHEUS_BINARY", GSS_PROMETHEUS_BINARY);
}
std::string PromtoolBinary() {
  return Tool("GSS_PROMTOOL_BINARY", GSS_PROMTOOL_BINARY);
}

// A free loopback TCP port: bound with port 0, then released (Prometheus
// cannot listen on port 0 and report the port).
absl::StatusOr<int> PickFreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    close(fd);
    return absl::InternalError("bind");
  }
  close(fd);
  return ntohs(address.sin_port);
}

std::string UrlEncode(absl::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&out, "%%%02X", c);
    }
  }
  return out;
}

// The value of an instant query whose result is exactly one sample, from
// Prometheus' /api/v1/query JSON ({"data":{"result":[{"value":[t,"v"]}]}}).
absl::StatusOr<double> QueryOne(int port, absl::string_view query) {
  absl::StatusOr<std::string> body =
      HttpGetBody(port, absl::StrCat("/api/v1/query?query=", UrlEncode(query)));
  if (!body.ok()) return body.status();
  if (!absl::StrContains(*body, "\"status\":\"success\"")) {
    return absl::UnavailableError(*body);
  }
  const size_t first = body->find("\"value\":[");
  if (first == std::string::npos) return absl::NotFoundError(*body);
  if (body->find("\"value\":[", first + 1) != std::string::npos) {
    return absl::FailedPreconditionError(absl::StrCat("many: ", *body));
  }
  const size_t open = body->find(",\"", first);
  const size_t close_quote = body->find('"', open + 2);
  if (open == std::string::npos || close_quote == std::string::npos) {
    return absl::InternalError(*body);
  }
  double value = 0;
  if (!absl::SimpleAtod(body->substr(open + 2, close_quote - open - 2),
                        &value)) {
    return absl::InternalError(*body);
  }
  return value;
}

// Runs a command through /bin/sh with output in files; its exit status.
absl::StatusOr<ExitStatus> RunShell(const std::string& dir,
                                    const std::string& name,
                                    const std::string& command,
                                    std::string* output) {
  absl::StatusOr<std::unique_ptr<Process>> process =
      Process::Start({"/bin/sh", {"-c", command}, dir, name});
  if (!process.ok()) return process.status();
  absl::StatusOr<ExitStatus> status =
      (*process)->WaitForExit(absl::Seconds(60));
  *output = (*process)->ReadStdout() + (*process)->ReadStderr();
  return status;
}

TEST(PrometheusScrapeTest, RealPrometheusScrapesBothProcesses) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cluster> cluster,
                       Cluster::Start(ClusterOptions()));
  const std::string dir = MakeTestTempDir("prometheus");

  // Two players, one per transport; each sends a few moves.
  std::vector<std::unique_ptr<GameTestClient>> players;
  int moves = 0;
  int accepted = 0;
  for (Transport transport : {Transport::kTcp, Transport::kUdp}) {
    ASSERT_OK_AND_ASSIGN(
        auto player, GameTestClient::Connect(transport, cluster->game_port()));
    ASSERT_OK(
        player->Login(absl::StrCat("scraped-", TransportName(transport))));
    players.push_back(std::move(player));
  }
  for (auto& player : players) {
    const int64_t t = player->EstimatedServerTick();
    for (int i = 1; i <= 3; ++i) {
      ASSERT_OK_AND_ASSIGN(
          game::v1::MoveResult result,
          player->Move(t + i, i % 2 == 0 ? 0 : 1, i % 2 == 0 ? 1 : 0));
      ++moves;
      if (result.accepted()) ++accepted;
    }
  }
  ASSERT_GT(accepted, 0);

  // Prometheus on a free loopback port, scraping both every second.
  ASSERT_OK_AND_ASSIGN(const int port, PickFreePort());
  const std::string config = absl::StrCat(dir, "/prometheus.yml");
  {
    std::ofstream out(config);
    out << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        << "scrape_configs:\n"
        << "  - job_name: gss-service\n    static_configs:\n"
        << "      - targets: ['127.0.0.1:" << cluster->service_metrics_port()
        << "']\n"
        << "  - job_name: gss-gateway\n    static_configs:\n"
        << "      - targets: ['127.0.0.1:" << cluster->gateway_metrics_port()
        << "']\n";
    ASSERT_TRUE(out.good());
  }
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Process> prometheus,
      Process::Start({PrometheusBinary(),
                      {absl::StrCat("--config.file=", config),
                       absl::StrCat("--storage.tsdb.path=", dir, "/data"),
                       absl::StrCat("--web.listen-address=127.0.0.1:", port),
                       "--log.level=warn"},
                      dir,
                      "prometheus"}));

  // Waits until `query` has exactly `expected` in Prometheus.
  auto expect_query = [&](const std::string& query, double expected) {
    absl::StatusOr<double> last = absl::UnknownError("not queried");
    const bool held = WaitFor(
        [&] {
          last = QueryOne(port, query);
          return last.ok() && *last == expected;
        },
        absl::Seconds(30), absl::Milliseconds(200));
    EXPECT_TRUE(held) << query << " expected " << expected << ", last: "
                      << (last.ok() ? absl::StrCat(*last)
                                    : last.status().ToString())
                      << "\n"
                      << prometheus->LogTail();
  };
  expect_query("up{job=\"gss-service\"}", 1);
  expect_query("up{job=\"gss-gateway\"}", 1);
  expect_query("gss_sessions{job=\"gss-service\",state=\"active\"}", 2);
  expect_query(
      "gss_inputs_total{job=\"gss-service\",kind=\"move\",outcome="
      "\"accepted\"}",
      accepted);
  expect_query("sum(gss_inputs_total{job=\"gss-service\",kind=\"move\"})",
               moves);
  expect_query("sum(gss_gateway_peers{job=\"gss-gateway\"})", 2);
  expect_query("gss_gateway_link_up{job=\"gss-gateway\"}", 1);

  // promtool's linter has nothing to say about either exposition.
  for (int metrics_port :
       {cluster->service_metrics_port(), cluster->gateway_metrics_port()}) {
    SCOPED_TRACE(absl::StrCat("metrics port ", metrics_port));
    ASSERT_OK_AND_ASSIGN(std::string text,
                         HttpGetBody(metrics_port, "/metrics"));
    const std::string file = absl::StrCat(dir, "/metrics-", metrics_port);
    std::ofstream(file) << text;
    std::string output;
    ASSERT_OK_AND_ASSIGN(
        ExitStatus status,
        RunShell(dir, absl::StrCat("promtool-", metrics_port),
                 absl::StrCat("'", PromtoolBinary(), "' check metrics < '",
                              file, "'"),
                 &output));
    EXPECT_TRUE(status.exited && status.code == 0) << status.ToString() << "\n"
                                                   << output;
    EXPECT_EQ(output, "") << "promtool check metrics warnings";
  }

  // Stop Prometheus the orderly way (the destructor kills it otherwise).
  ASSERT_OK(prometheus->Signal(SIGTERM));
  ASSERT_OK_AND_ASSIGN(ExitStatus exit,
                       prometheus->WaitForExit(absl::Seconds(30)));
  EXPECT_TRUE(exit.exited && exit.code == 0) << exit.ToString();
}

}  // namespace
}  // namespace gss::testing
