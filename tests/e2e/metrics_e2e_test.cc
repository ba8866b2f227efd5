// End-to-end: both processes serve Prometheus text on /metrics, with the
// app prefix and without per-peer or per-player labels.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/support/cluster.h"
#include "tests/support/game_test_client.h"
#include "tests/support/http_get.h"
#include "tests/support/test_macros.h"

namespace gss::testing {
namespace {

TEST(MetricsTest, BothProcessesExposePrefixedMetricsWithoutPeerLabels) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cluster> cluster,
                       Cluster::Start(ClusterOptions()));
  ASSERT_NE(cluster->service_metrics_port(), 0);
  ASSERT_NE(cluster->gateway_metrics_port(), 0);
  // Some traffic first, over both transports, including a malformed message.
  std::vector<std::unique_ptr<GameTestClient>> clients;
  std::vector<std::string> identities;
  for (Transport transport : {Transport::kTcp, Transport::kUdp}) {
    ASSERT_OK_AND_ASSIGN(
        auto client, GameTestClient::Connect(transport, cluster->game_port()));
    const std::string name = absl::StrCat("metered-", TransportName(transport));
    ASSERT_OK_AND_ASSIGN(game::v1::Welcome welcome, client->Login(name));
    ASSERT_OK(client->Ping());
    ASSERT_OK(client->SendPayload("\xff\xff"));
    ASSERT_OK(client->ReceiveBody(game::v1::ServerMessage::kInputRejected,
                                  absl::Seconds(5)));
    identities.push_back(name);
    identities.push_back(welcome.session_id());
    identities.push_back(absl::StrCat("127.0.0.1:", client->local_port()));
    clients.push_back(std::move(client));
  }

  for (int port :
       {cluster->service_metrics_port(), cluster->gateway_metrics_port()}) {
    SCOPED_TRACE(absl::StrCat("metrics port ", port));
    ASSERT_OK_AND_ASSIGN(std::string response, HttpGet(port, "/metrics"));
    ASSERT_TRUE(absl::StartsWith(response, "HTTP/1.")) << response;
    EXPECT_TRUE(absl::StrContains(response.substr(0, 20), " 200"))
        << response.substr(0, 200);
    int samples = 0;
    for (absl::string_view line : absl::StrSplit(response, '\n')) {
      // Histograms, not summaries (prometheus-cpp's own exposer_* metrics
      // are not the project's).
      if (absl::StartsWith(line, "# TYPE gss_")) {
        EXPECT_FALSE(absl::EndsWith(line, " summary")) << line;
      }
      if (!absl::StartsWith(line, "gss_")) continue;
      ++samples;
      for (const std::string& identity : identities) {
        EXPECT_FALSE(absl::StrContains(line, identity))
            << "per-peer label: " << line;
      }
    }
    EXPECT_GT(samples, 0) << "no gss_ samples:\n" << response.substr(0, 2000);
  }
}

}  // namespace
}  // namespace gss::testing
