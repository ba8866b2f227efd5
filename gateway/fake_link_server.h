// A fake session service for gateway tests: a real gRPC server on loopback
// implementing GatewayLink.Attach that records everything the gateway sends
// and lets the test send commands back.
#ifndef GATEWAY_FAKE_LINK_SERVER_H_
#define GATEWAY_FAKE_LINK_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gss/link/v1/link.grpc.pb.h"

namespace gss::gateway::testing {

class FakeLinkServer final : public link::v1::GatewayLink::Service {
 public:
  struct State {
    std::vector<link::v1::Hello> hellos;
    std::vector<link::v1::PeerEvent> events;        // In arrival order.
    std::vector<link::v1::LivenessReport> reports;  // In arrival order.
    int streams_ended = 0;
  };

  // Listens on 127.0.0.1:`port` (0: any). port() is 0 when binding failed.
  explicit FakeLinkServer(uint16_t port = 0);
  ~FakeLinkServer() override;

  uint16_t port() const { return port_; }
  std::string address() const;
  // Cancels the stream and stops listening, like a crashed service.
  void Kill();

  // Waits until `predicate(state)` holds; false after `timeout`.
  bool WaitUntil(const std::function<bool(const State&)>& predicate,
                 absl::Duration timeout = absl::Seconds(10));
  State Snapshot() const;
  // Messages of one peer, in order.
  std::vector<std::string> MessagesOf(uint64_t connection_id) const;
  std::optional<link::v1::PeerEvent> ClosedEventOf(
      uint64_t connection_id) const;

  // False when no stream is open.
  bool Send(const link::v1::ServiceMessage& message);
  bool Deliver(uint64_t connection_id, const std::string& bytes);
  bool Close(uint64_t connection_id, const std::string& final_message,
             const std::string& reason = "test");
  // Whether each LivenessReport is acknowledged as it arrives (the default),
  // as the real service does; off, like a stalled one.
  void AcknowledgeReports(bool acknowledge);

  grpc::Status Attach(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<link::v1::ServiceMessage,
                               link::v1::GatewayMessage>* stream) override;

 private:
  std::unique_ptr<grpc::Server> server_;
  uint16_t port_ = 0;
  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_);
  bool acknowledge_reports_ ABSL_GUARDED_BY(mu_) = true;
  absl::Mutex write_mu_;
  grpc::ServerReaderWriter<link::v1::ServiceMessage, link::v1::GatewayMessage>*
      stream_ ABSL_GUARDED_BY(write_mu_) = nullptr;
};

}  // namespace gss::gateway::testing

#endif  // GATEWAY_FAKE_LINK_SERVER_H_
