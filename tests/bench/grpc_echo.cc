// Raw gRPC bidirectional echo for the end-to-end benchmark: the gateway
// link's stream and batching (up to 256 small events per message), no logic.
// --api chooses gRPC's synchronous API (as the link uses) or its callback
// API on both ends, so that the cost of each message can be compared.
#include <sys/resource.h>

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
#include "absl/flags/usage.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "gss/link/v1/link.grpc.pb.h"
#include "process/process_setup.h"

ABSL_FLAG(int, batch, 256, "events per EventBatch (the gateway's maximum)");
ABSL_FLAG(int, window, 8, "batches in flight");
ABSL_FLAG(int, payload, 24, "bytes per event (a small game message)");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5), "measured time");
ABSL_FLAG(std::string, api, "sync",
          "gRPC API of both ends: sync (the link's) or callback");
ABSL_FLAG(bool, json, false, "print the result as JSON");

namespace {

using gss::link::v1::GatewayLink;
using gss::link::v1::GatewayMessage;
using gss::link::v1::ServiceMessage;

// Appends a deliver command for each event of `in` to `out`.
void Echo(const GatewayMessage& in, ServiceMessage& out) {
  auto* commands = out.mutable_commands();
  for (const auto& event : in.events().events()) {
    auto* command = commands->add_commands();
    command->set_connection_id(event.connection_id());
    command->set_deliver(event.message());
  }
}

// One reply per batch, written by the handler's own thread.
class SyncEchoService final : public GatewayLink::Service {
  grpc::Status Attach(grpc::ServerContext*,
                      grpc::ServerReaderWriter<ServiceMessage, GatewayMessage>*
                          stream) override {
    GatewayMessage in;
    ServiceMessage out;
    while (stream->Read(&in)) {
      out.Clear();
      Echo(in, out);
      if (!stream->Write(out)) break;
    }
    return grpc::Status::OK;
  }
};

// Replies from gRPC's own threads; a stream takes one write at a time, so
// replies that find a write in flight leave together after it.
class CallbackEchoService final : public GatewayLink::CallbackService {
  class Reactor final
      : public grpc::ServerBidiReactor<GatewayMessage, ServiceMessage> {
   public:
    Reactor() { StartRead(&in_); }
    void OnReadDone(bool ok) override {
      if (!ok) {
        Finish(grpc::Status::OK);
        return;
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        Echo(in_, pending_);
        WriteIfIdleLocked();
      }
      StartRead(&in_);
    }
    void OnWriteDone(bool ok) override {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (ok) WriteIfIdleLocked();
    }
    void OnDone() override { delete this; }

   private:
    void WriteIfIdleLocked() {
      if (writing_ || pending_.commands().commands_size() == 0) return;
      out_.Clear();
      out_.Swap(&pending_);
      writing_ = true;
      StartWrite(&out_);
    }
    std::mutex mu_;
    bool writing_ = false;
    GatewayMessage in_;
    ServiceMessage out_;
    ServiceMessage pending_;
  };
  grpc::ServerBidiReactor<GatewayMessage, ServiceMessage>* Attach(
      grpc::CallbackServerContext*) override {
    return new Reactor();
  }
};

// Writes `request` from the calling thread, `window` in flight, until
// `end`; a second thread reads the replies.
void RunSyncClient(GatewayLink::Stub& stub, const GatewayMessage& request,
                   int window, std::chrono::steady_clock::time_point end,
                   std::atomic<uint64_t>& echoed) {
  grpc::ClientContext context;
  auto stream = stub.Attach(&context);
  std::mutex mutex;
  std::condition_variable cv;
  int in_flight = 0;
  std::thread reader([&] {
    ServiceMessage response;
    while (stream->Read(&response)) {
      echoed.fetch_add(response.commands().commands_size());
      std::lock_guard<std::mutex> lock(mutex);
      --in_flight;
      cv.notify_one();
    }
  });
  while (std::chrono::steady_clock::now() < end) {
    {
      std::unique_lock<std::mutex> lock(mutex);
      cv.wait(lock, [&] { return in_flight < window; });
      ++in_flight;
    }
    if (!stream->Write(request)) break;
  }
  stream->WritesDone();
  reader.join();
  stream->Finish();
}

// Writes from gRPC's threads: the next batch goes when a write completes
// or a reply frees a slot of the window.
class CallbackClient final
    : public grpc::ClientBidiReactor<GatewayMessage, ServiceMessage> {
 public:
  CallbackClient(GatewayLink::Stub& stub, const GatewayMessage& request,
                 int window, std::atomic<uint64_t>& echoed)
      : request_(request), window_(window), echoed_(echoed) {
    stub.async()->Attach(&context_, this);
    StartRead(&response_);
    StartCall();
    std::lock_guard<std::mutex> lock(mu_);
    WriteIfAllowedLocked();
  }
  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (ok) WriteIfAllowedLocked();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    echoed_.fetch_add(response_.commands().commands_size());
    {
      std::lock_guard<std::mutex> lock(mu_);
      --in_flight_;
      WriteIfAllowedLocked();
    }
    StartRead(&response_);
  }
  void OnDone(const grpc::Status&) override {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    cv_.notify_all();
  }
  // Stops writing, ends the stream and waits for gRPC to be done with it.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    context_.TryCancel();
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });
  }

 private:
  void WriteIfAllowedLocked() {
    if (writing_ || stopping_ || in_flight_ >= window_) return;
    writing_ = true;
    ++in_flight_;
    StartWrite(&request_);
  }
  grpc::ClientContext context_;
  const GatewayMessage request_;
  const int window_;
  std::atomic<uint64_t>& echoed_;
  ServiceMessage response_;
  std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0;
  bool writing_ = false;
  bool stopping_ = false;
  bool done_ = false;
};

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Raw gRPC echo baseline: the gateway link's stream and batching, no "
      "logic.");
  gss::process::ParseFlagsOrExit(argc, argv, "grpc_echo");
  const int batch = absl::GetFlag(FLAGS_batch);
  const int window = absl::GetFlag(FLAGS_window);
  const std::string api = absl::GetFlag(FLAGS_api);
  if (api != "sync" && api != "callback") {
    std::fprintf(stderr, "grpc_echo: --api is sync or callback, not \"%s\"\n",
                 api.c_str());
    return 2;
  }
  if (batch < 1 || window < 1) {
    std::fprintf(stderr, "grpc_echo: --batch and --window must be >= 1\n");
    return 2;
  }

  SyncEchoService sync_service;
  CallbackEchoService callback_service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  if (api == "sync") {
    builder.RegisterService(&sync_service);
  } else {
    builder.RegisterService(&callback_service);
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();

  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                     grpc::InsecureChannelCredentials());
  auto stub = GatewayLink::NewStub(channel);

  GatewayMessage request;
  auto* events = request.mutable_events();
  const std::string payload(absl::GetFlag(FLAGS_payload), 'x');
  for (int i = 0; i < batch; ++i) {
    auto* event = events->add_events();
    event->set_connection_id(1000 + i);
    event->set_message(payload);
  }

  // Connection setup and the first batches are not measured.
  const auto warm_up = std::chrono::milliseconds(300);
  const auto measured =
      absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_duration));
  std::atomic<uint64_t> echoed{0};  // Events echoed so far.
  uint64_t at_start = 0;
  double cpu_at_start = 0;
  std::chrono::steady_clock::time_point measured_from;
  uint64_t at_end = 0;
  double cpu_at_end = 0;
  std::chrono::steady_clock::time_point measured_to;
  // Samples the counters at the start and the end of the measured window.
  std::thread sampler([&] {
    std::this_thread::sleep_for(warm_up);
    at_start = echoed.load();
    cpu_at_start = CpuSeconds();
    measured_from = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(measured);
    at_end = echoed.load();
    cpu_at_end = CpuSeconds();
    measured_to = std::chrono::steady_clock::now();
  });
  const auto end = std::chrono::steady_clock::now() + warm_up + measured;
  if (api == "sync") {
    RunSyncClient(*stub, request, window, end, echoed);
    sampler.join();
  } else {
    CallbackClient client(*stub, request, window, echoed);
    sampler.join();
    client.Stop();
  }
  server->Shutdown();

  const double seconds =
      std::chrono::duration<double>(measured_to - measured_from).count();
  const uint64_t measured_events = at_end - at_start;
  const double rate = measured_events / seconds;
  // Each batch is two messages: the request and its reply.
  const double messages = 2.0 * measured_events / batch;
  const double cpu_us_per_message =
      messages > 0 ? (cpu_at_end - cpu_at_start) * 1e6 / messages : 0;
  if (absl::GetFlag(FLAGS_json)) {
    std::printf(
        "{\"events_per_second\":%.1f,\"batch\":%d,\"window\":%d,"
        "\"api\":\"%s\",\"cpu_us_per_message\":%.1f}\n",
        rate, batch, window, api.c_str(), cpu_us_per_message);
  } else {
    std::printf(
        "grpc_echo: %.0f events/s (batch=%d window=%d api=%s), %.1f us of CPU "
        "per message\n",
        rate, batch, window, api.c_str(), cpu_us_per_message);
  }
  return 0;
}
