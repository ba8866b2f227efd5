// Raw gRPC bidirectional echo for the end-to-end benchmark: the gateway
// link's stream and batching (up to 256 small events per message), no logic.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "gss/link/v1/link.grpc.pb.h"

ABSL_FLAG(int, batch, 256, "events per EventBatch (the gateway's maximum)");
ABSL_FLAG(int, window, 8, "batches in flight");
ABSL_FLAG(int, payload, 24, "bytes per event (a small game message)");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5), "measured time");
ABSL_FLAG(bool, json, false, "print the result as JSON");

namespace {

using gss::link::v1::GatewayLink;
using gss::link::v1::GatewayMessage;
using gss::link::v1::ServiceMessage;

// Echoes each event of a batch as a deliver command, one batch per batch.
class EchoService final : public GatewayLink::Service {
  grpc::Status Attach(grpc::ServerContext*,
                      grpc::ServerReaderWriter<ServiceMessage, GatewayMessage>*
                          stream) override {
    GatewayMessage in;
    ServiceMessage out;
    while (stream->Read(&in)) {
      out.Clear();
      auto* commands = out.mutable_commands();
      for (const auto& event : in.events().events()) {
        auto* command = commands->add_commands();
        command->set_connection_id(event.connection_id());
        command->set_deliver(event.message());
      }
      if (!stream->Write(out)) break;
    }
    return grpc::Status::OK;
  }
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int batch = absl::GetFlag(FLAGS_batch);
  const int window = absl::GetFlag(FLAGS_window);

  EchoService service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();

  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                     grpc::InsecureChannelCredentials());
  auto stub = GatewayLink::NewStub(channel);
  grpc::ClientContext context;
  auto stream = stub->Attach(&context);

  GatewayMessage request;
  auto* events = request.mutable_events();
  const std::string payload(absl::GetFlag(FLAGS_payload), 'x');
  for (int i = 0; i < batch; ++i) {
    auto* event = events->add_events();
    event->set_connection_id(1000 + i);
    event->set_message(payload);
  }

  std::mutex mutex;
  std::condition_variable cv;
  int in_flight = 0;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> echoed{0};
  std::thread reader([&] {
    ServiceMessage response;
    while (stream->Read(&response)) {
      echoed.fetch_add(response.commands().commands_size());
      std::lock_guard<std::mutex> lock(mutex);
      --in_flight;
      cv.notify_one();
    }
  });

  const auto start = std::chrono::steady_clock::now();
  const auto end =
      start + absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_duration));
  uint64_t at_start = 0;
  bool warm = false;
  auto measured_from = start;
  while (std::chrono::steady_clock::now() < end) {
    {
      std::unique_lock<std::mutex> lock(mutex);
      cv.wait(lock, [&] { return in_flight < window; });
      ++in_flight;
    }
    if (!warm && std::chrono::steady_clock::now() - start >
                     std::chrono::milliseconds(300)) {
      // Skip connection setup and the first batches.
      warm = true;
      at_start = echoed.load();
      measured_from = std::chrono::steady_clock::now();
    }
    if (!stream->Write(request)) break;
  }
  const uint64_t total = echoed.load() - at_start;
  const double seconds = std::chrono::duration<double>(
                             std::chrono::steady_clock::now() - measured_from)
                             .count();
  stream->WritesDone();
  reader.join();
  stream->Finish();
  server->Shutdown();
  stop.store(true);
  const double rate = total / seconds;
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("{\"events_per_second\":%.1f,\"batch\":%d,\"window\":%d}\n",
                rate, batch, window);
  } else {
    std::printf("grpc_echo: %.0f events/s (batch=%d window=%d)\n", rate, batch,
                window);
  }
  return 0;
}
