// The gRPC face of the gateway link: one GatewayLink.Attach stream per
// gateway; the handler thread reads event batches into the host and a writer
// thread sends the host's commands back in batches.
#ifndef SESSION_SERVICE_GATEWAY_LINK_SERVICE_H_
#define SESSION_SERVICE_GATEWAY_LINK_SERVICE_H_

#include <cstddef>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gss/link/v1/link.grpc.pb.h"
#include "session_service/metrics.h"
#include "session_service/server_network_host.h"

namespace gss {

struct LinkOptions {
  // Commands per CommandBatch at most. A batch holds whatever queued while
  // the previous write was in flight, so batches grow with load and a lone
  // command goes out at once; the replies to one EventBatch go together.
  size_t max_batch = 512;
  // A batch stops growing once its commands reach this many bytes.
  size_t max_batch_bytes = 1 << 20;
  // Commands queued for one gateway at most. A gateway that stops reading
  // past this has its stream cancelled (and reconnects, resynchronising with
  // Hello) rather than growing the service's memory without bound.
  size_t max_queued = 1 << 16;
  // A write to a gateway still not done after this long cancels the stream.
  // A gateway that stops reading (frozen or broken) would otherwise hold
  // the stream's threads in a write for ever while its peers' commands pile
  // up; cancelled, it resynchronises with Hello when it reads again.
  absl::Duration max_write_stall = absl::Seconds(10);
};

class StreamCommandSink;

class GatewayLinkService final : public link::v1::GatewayLink::Service {
 public:
  GatewayLinkService(ServerNetworkHost& host,
                     std::shared_ptr<ServiceMetrics> metrics,
                     LinkOptions options = {});
  ~GatewayLinkService() override;

  grpc::Status Attach(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<link::v1::ServiceMessage,
                               link::v1::GatewayMessage>* stream) override;

  // Refuses new streams, sends every command already queued on each open
  // stream, then ends the streams; waits for their handlers until `deadline`.
  void Shutdown(absl::Time deadline);

 private:
  // Cancels the streams whose write has stalled, until the service goes.
  void WatchForStalls();

  ServerNetworkHost& host_;
  const std::shared_ptr<ServiceMetrics> metrics_;
  const LinkOptions options_;
  absl::Mutex mu_;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<StreamCommandSink*> open_ ABSL_GUARDED_BY(mu_);
  bool destroying_ ABSL_GUARDED_BY(mu_) = false;
  std::thread stall_watch_;
};

}  // namespace gss

#endif  // SESSION_SERVICE_GATEWAY_LINK_SERVICE_H_
