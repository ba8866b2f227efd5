// The gateway's end of the GatewayLink.Attach stream: batches peer events to
// the session service, hands its commands back, and reconnects and resyncs.
#ifndef GATEWAY_SERVICE_LINK_H_
#define GATEWAY_SERVICE_LINK_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/metrics.h"
#include "gateway/peer_event_sink.h"
#include "gss/link/v1/link.grpc.pb.h"

namespace grpc {
class ClientContext;
}  // namespace grpc

namespace gss::gateway {

struct ServiceLinkOptions {
  std::string target = "127.0.0.1:7780";
  uint32_t gateway_id = 1;
  std::string gateway_name;
  uint64_t incarnation = 0;
  size_t batch_max_events = 256;
  // Keeps a batch well under gRPC's default 4 MiB message limit.
  size_t batch_max_bytes = 1 << 20;
  // Least time between the starts of two batch writes, unless a batch fills
  // (batch_max_events or batch_max_bytes). An event that finds the link
  // quiet for this long is written at once; others wait for the next write,
  // at most this long. 0: write whenever the writer is free.
  absl::Duration batch_max_delay = absl::Milliseconds(1);
  absl::Duration backoff_initial = absl::Milliseconds(100);
  absl::Duration backoff_max = absl::Seconds(5);
  absl::Duration keepalive = absl::Seconds(10);
  // Answer peers' Pings at the gateway and report them to the service in
  // bulk (link.proto, LivenessReport). Off: every Ping goes to the service.
  bool answer_pings = true;
  // Heartbeats answered at the edge reach the service at most this late
  // (sooner when a batch goes anyway).
  absl::Duration liveness_report_interval = absl::Milliseconds(100);
  // A report the service has not acknowledged for this long means it is
  // stalled: Pings go to it again, unanswered until it recovers, so clients
  // notice a frozen service as they would without the gateway's help.
  absl::Duration liveness_ack_timeout = absl::Milliseconds(500);
  // Message events held at most (link up or down); beyond, they are dropped
  // and counted. Connect/close events are never dropped: while the link is
  // down they are folded into the peer set that the next Hello carries.
  size_t max_queued_events = 65536;
  // And their bytes at most, whichever bound comes first.
  size_t max_queued_bytes = 64 << 20;
};

// One long-lived stream, run by its own thread (plus a reader thread per
// stream). Events of one peer keep their order. While the link is down the
// gateway keeps its peers; on reconnect Hello lists them all and only the
// message events of still-connected peers survive from the queue.
class ServiceLink : public PeerEventSink {
 public:
  // Runs on the link's reader thread, once per command, in stream order.
  using CommandHandler = std::function<void(link::v1::PeerCommand& command)>;
  // Runs on the link's thread when a stream the service had acknowledged
  // breaks (not when the link is stopped), before reconnecting starts.
  using LinkLostHandler = std::function<void()>;

  ServiceLink(ServiceLinkOptions options, GatewayMetrics& metrics,
              CommandHandler on_command,
              LinkLostHandler on_link_lost = nullptr);
  ~ServiceLink() override;

  void Start();
  // Sends what is queued, half-closes, and waits for the service to end the
  // stream; after `timeout` the stream is cancelled. Idempotent.
  void Stop(absl::Duration timeout);

  void PeerConnected(const PeerIdentity& identity) override;
  void PeerMessage(uint64_t connection_id, std::string message) override;
  bool PeerPinged(uint64_t connection_id,
                  std::optional<absl::Duration> rtt) override;
  void PeerClosed(uint64_t connection_id, bool orderly,
                  std::string reason) override;
  void PeerForgotten(uint64_t connection_id) override;

  bool up() const;
  // Waits until up() == `up`; false after `timeout`.
  bool WaitUntilUp(bool up, absl::Duration timeout) const;
  // Waits until the current stream's HelloAck has arrived; false after
  // `timeout`.
  bool WaitUntilAcknowledged(absl::Duration timeout) const;
  // Streams on which a HelloAck arrived (for tests and logs).
  uint64_t hello_acks() const;
  std::string service_instance_id() const;

 private:
  enum class EventKind : uint8_t { kConnected, kMessage, kClosed };
  struct Event {
    EventKind kind;
    bool orderly = false;
    Transport transport = Transport::kUdp;
    uint64_t connection_id = 0;
    std::string data;  // Message bytes, close reason, or peer address.
  };
  struct KnownPeer {
    Transport transport;
    std::string address;
  };
  using Stream = grpc::ClientReaderWriterInterface<link::v1::GatewayMessage,
                                                   link::v1::ServiceMessage>;

  void Run();
  // One stream from connect to end. True when the service acknowledged it.
  bool RunStream();
  void ReadLoop(Stream* stream);
  // Under mu_: builds Hello from the peer set and drops queued events the
  // Hello makes redundant.
  link::v1::GatewayMessage StartStreamLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EnqueueLocked(Event event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool BatchReadyLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves the heartbeats answered since the last report into `batch`.
  void AddLivenessReportLocked(link::v1::EventBatch& batch, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LivenessAppliedLocked(uint64_t report_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ServiceLinkOptions options_;
  GatewayMetrics& metrics_;
  const CommandHandler on_command_;
  const LinkLostHandler on_link_lost_;

  mutable absl::Mutex mu_;
  absl::CondVar cv_;  // Writer: work, broken stream, stop.
  std::deque<Event> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  size_t queued_messages_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<uint64_t, KnownPeer> peers_ ABSL_GUARDED_BY(mu_);
  bool up_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool acked_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t hello_acks_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t failures_in_a_row_ ABSL_GUARDED_BY(mu_) = 0;
  std::string instance_id_ ABSL_GUARDED_BY(mu_);
  // Heartbeats answered at the edge and not yet reported: connection id to
  // round trip in microseconds (-1: none measured).
  absl::flat_hash_map<uint64_t, int64_t> answered_pings_ ABSL_GUARDED_BY(mu_);
  absl::Time last_report_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  uint64_t next_report_id_ ABSL_GUARDED_BY(mu_) = 1;
  struct SentReport {
    uint64_t id;
    absl::Time sent_at;
  };
  // Reports of this stream the service has not acknowledged, oldest first.
  std::deque<SentReport> unacked_reports_ ABSL_GUARDED_BY(mu_);
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

}  // namespace gss::gateway

#endif  // GATEWAY_SERVICE_LINK_H_
