// End-to-end: consumers that stop reading cannot grow the service's memory.
// A watcher that lags loses the oldest transitions (and is told how many);
// a gateway link that stops reading is cut off once a write to it stalls.
#include <grpcpp/grpcpp.h>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gss/link/v1/link.grpc.pb.h"
#include "gss/ops/v1/ops.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/support/cluster.h"
#include "tests/support/game_test_client.h"
#include "tests/support/ops_client.h"
#include "tests/support/process.h"
#include "tests/support/prometheus_text.h"
#include "tests/support/test_macros.h"

namespace gss::testing {
namespace {

// Logs `count` players in and out over TCP, a batch at a time: three
// transitions each (authenticating, active, closed).
absl::Status Churn(int port, int count) {
  constexpr int kBatch = 100;
  for (int start = 0; start < count; start += kBatch) {
    std::vector<std::unique_ptr<GameTestClient>> batch;
    for (int i = start; i < std::min(count, start + kBatch); ++i) {
      auto client = GameTestClient::Connect(Transport::kTcp, port);
      if (!client.ok()) return client.status();
      auto welcome = (*client)->Login(absl::StrCat("churn-", i));
      if (!welcome.ok()) return welcome.status();
      batch.push_back(*std::move(client));
    }
    for (auto& client : batch) {
      if (absl::Status status = client->Goodbye(); !status.ok()) return status;
    }
  }
  return absl::OkStatus();
}

TEST(SlowWatcherTest, LaggingWatcherLosesTheOldestAndIsToldHowMany) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cluster> cluster,
                       Cluster::Start(ClusterOptions()));
  // A watch whose client stops reading once the (empty) snapshot is done,
  // which shows the watch is in place on the server.
  // A small receive window and no window growth: a slow reader on a slow
  // network, so that the service's writes back up within a few hundred
  // transitions instead of megabytes.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 8192);
  auto stub = ops::v1::SessionInspection::NewStub(grpc::CreateCustomChannel(
      cluster->ops_address(), grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext context;
  context.AddMetadata("authorization",
                      absl::StrCat("Bearer ", cluster->reader_token()));
  ops::v1::WatchSessionsRequest request;
  request.set_include_snapshot(true);
  std::unique_ptr<grpc::ClientReader<ops::v1::WatchSessionsResponse>> reader =
      stub->WatchSessions(&context, request);
  ops::v1::WatchSessionsResponse response;
  bool synced = false;
  while (!synced && reader->Read(&response)) {
    synced = response.has_snapshot_done();
  }
  ASSERT_TRUE(synced);
  ASSERT_OK_AND_ASSIGN(uint64_t rss_before,
                       ResidentBytes(cluster->service()->pid()));

  // Far more transitions than the watcher's queue holds (1,024).
  constexpr int kPlayers = 3000;
  ASSERT_OK(Churn(cluster->game_port(), kPlayers));
  ASSERT_OK_AND_ASSIGN(uint64_t rss_after,
                       ResidentBytes(cluster->service()->pid()));

  // Now read: what arrives plus what was lost accounts for every
  // transition, and some were lost rather than held.
  uint64_t delivered = 0;
  uint64_t lost = 0;
  while (delivered + lost < 3u * kPlayers && reader->Read(&response)) {
    if (response.has_transition()) ++delivered;
    lost += response.lost();
  }
  context.TryCancel();
  reader->Finish();
  EXPECT_EQ(delivered + lost, 3u * kPlayers);
  EXPECT_GT(lost, 0u);
  EXPECT_LT(delivered, 3u * kPlayers);
  // 9,000 transitions held in full would be a few MB; the bound keeps the
  // growth to what the sessions themselves left behind in the allocator.
  if (kResidentMemoryIsMeaningful) {
    EXPECT_LT(rss_after, rss_before + (32u << 20))
        << "before " << rss_before << " after " << rss_after;
  }
  // The service carries on.
  ASSERT_OK(cluster->ops().GetServerInfo());
}

// A gateway that says hello, then floods pings for its peers and never
// reads a command; the service must cut it off, leaving `expected_log` in
// its log, and then serve a real gateway.
void DeafGatewayIsCutOff(const std::vector<std::string>& service_flags,
                         const std::string& expected_log) {
  ClusterOptions options;
  options.start_gateway = false;
  options.wait_for_attach = false;
  options.service_flags = service_flags;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Cluster> cluster,
                       Cluster::Start(options));
  ASSERT_OK_AND_ASSIGN(uint64_t rss_before,
                       ResidentBytes(cluster->service()->pid()));

  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 8192);
  auto stub = link::v1::GatewayLink::NewStub(grpc::CreateCustomChannel(
      absl::StrCat("127.0.0.1:", cluster->link_port()),
      grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext context;
  // Only so that a regression fails instead of hanging.
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  auto stream = stub->Attach(&context);
  link::v1::GatewayMessage hello;
  hello.mutable_hello()->set_gateway_id(7);
  hello.mutable_hello()->set_gateway_name("deaf");
  hello.mutable_hello()->set_incarnation(1);
  constexpr int kPeers = 100;
  for (int i = 1; i <= kPeers; ++i) {
    link::v1::Peer* peer = hello.mutable_hello()->add_peers();
    peer->set_connection_id(i);
    peer->set_address(absl::StrCat("127.0.0.1:", 10000 + i));
  }
  ASSERT_TRUE(stream->Write(hello));
  game::v1::ClientMessage ping;
  ping.mutable_ping()->set_client_time_us(1);
  const std::string ping_bytes = ping.SerializeAsString();
  // Each ping is answered with a command. Once this side's receive window
  // is full, the service's write stalls and, a second later, it cancels the
  // stream.
  auto cut_off = [&] {
    return absl::StrContains(cluster->service()->ReadStderr(), expected_log);
  };
  int batches = 0;
  bool cut = false;
  for (; batches < 4000 && !cut; ++batches) {
    link::v1::GatewayMessage message;
    for (int i = 0; i < 256; ++i) {
      link::v1::PeerEvent* event = message.mutable_events()->add_events();
      event->set_connection_id(1 + (batches * 256 + i) % kPeers);
      event->set_message(ping_bytes);
    }
    cut = !stream->Write(message) || (batches % 16 == 0 && cut_off());
  }
  EXPECT_TRUE(WaitFor(cut_off, absl::Seconds(10)))
      << "not cut off after " << batches << " batches\n"
      << cluster->service()->LogTail();
  std::cout << "cut off after " << batches << " batches of 256 pings\n";
  // This side never read a command: its own end of the call is all that is
  // left (Finish would wait for the unread commands first).
  context.TryCancel();
  stream->Finish();
  // Nothing of the deaf gateway is left attached.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto info = cluster->ops().GetServerInfo();
        return info.ok() && info->gateways_attached() == 0;
      },
      absl::Seconds(10)));
  ASSERT_OK_AND_ASSIGN(uint64_t rss_after,
                       ResidentBytes(cluster->service()->pid()));
  if (kResidentMemoryIsMeaningful) {
    EXPECT_LT(rss_after, rss_before + (64u << 20))
        << "before " << rss_before << " after " << rss_after;
  }

  // A real gateway attaches afterwards and its players are served.
  ASSERT_OK(cluster->StartGateway());
  ASSERT_OK(cluster->WaitForGatewayAttached(absl::Seconds(10)));
  ASSERT_OK_AND_ASSIGN(auto player, GameTestClient::Connect(
                                        Transport::kUdp, cluster->game_port()));
  ASSERT_OK(player->Login("after-the-deaf-gateway"));
}

TEST(SlowLinkTest, DeafGatewayIsCutOffAndMemoryStaysBounded) {
  // Whichever bound comes first: the command queue (20,000) or a write
  // that has not completed in a second.
  DeafGatewayIsCutOff(
      {"--link_max_queued_commands=20000", "--link_write_stall_timeout=1s"},
      "cancelling its stream");
}

}  // namespace
}  // namespace gss::testing
