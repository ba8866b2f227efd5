// The session service's Prometheus metrics. Every series exists from the
// start, so the event path only bumps existing counters: no Family::Add after
// construction, and no label that names a peer or a player.
#ifndef SESSION_SERVICE_METRICS_H_
#define SESSION_SERVICE_METRICS_H_

#include <array>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/multi_session_manager.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "session_service/refusals.h"

namespace gss {

enum class InputKind : uint8_t { kMove, kShoot };

class ServiceMetrics {
 public:
  ServiceMetrics();
  ServiceMetrics(const ServiceMetrics&) = delete;
  ServiceMetrics& operator=(const ServiceMetrics&) = delete;

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  // From MultiSessionOptions::on_transition: exact, lock-free apart from the
  // counters' own atomics.
  void OnTransition(const SessionTransition& transition);
  // `rejection` kNone means accepted.
  void CountInput(InputKind kind, InputRejection rejection);
  void CountMalformed();
  // nullopt: accepted. The outcome label is "accepted" or the refusal's
  // name.
  void CountLogin(std::optional<LoginRefusal> refusal);
  void CountResume(std::optional<ResumeRefusal> refusal);
  void ObserveRtt(absl::Duration rtt);
  // A heartbeat applied to a session: a Ping the service answered, or one a
  // gateway answered at the edge and reported.
  void CountHeartbeat(bool answered_by_gateway);
  void ObserveEventBatch(size_t events);
  void ObserveCommandBatch(size_t commands);
  void CountAttach();
  void SetGatewaysAttached(size_t gateways);
  // Commands for a gateway that is not attached, or whose queue overflowed.
  void CountDroppedCommand(bool queue_full);
  // Events for connections the service holds no session for.
  void CountDroppedEvent();
  void SetDraining(bool draining);

  // For tests.
  double InputCount(InputKind kind, InputRejection rejection) const;
  double MalformedCount() const;
  double LoginCount(absl::string_view outcome) const;
  double ClosedCount(CloseReason reason) const;
  double AttachCount() const;
  uint64_t RttSamples() const;
  double HeartbeatCount(bool answered_by_gateway) const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  // [from][to][cause]; nullptr for transitions the lifecycle cannot make.
  std::array<std::array<std::array<prometheus::Counter*, kSessionEventCount>,
                        kSessionStateCount>,
             kSessionStateCount>
      transitions_{};
  std::array<prometheus::Counter*, kCloseReasonCount> closed_{};
  std::array<std::array<prometheus::Counter*, kInputRejectionCount>, 2>
      inputs_{};
  prometheus::Counter* malformed_ = nullptr;
  // Index 0: accepted; 1 + refusal: refused.
  std::array<prometheus::Counter*, 1 + kLoginRefusalCount> logins_{};
  std::array<prometheus::Counter*, 1 + kResumeRefusalCount> resumes_{};
  prometheus::Histogram* rtt_ = nullptr;
  prometheus::Counter* heartbeats_by_service_ = nullptr;
  prometheus::Counter* heartbeats_by_gateway_ = nullptr;
  prometheus::Histogram* event_batches_ = nullptr;
  prometheus::Histogram* command_batches_ = nullptr;
  prometheus::Counter* attaches_ = nullptr;
  prometheus::Gauge* gateways_ = nullptr;
  prometheus::Counter* dropped_no_gateway_ = nullptr;
  prometheus::Counter* dropped_queue_full_ = nullptr;
  prometheus::Counter* dropped_events_ = nullptr;
  prometheus::Gauge* draining_ = nullptr;
};

// gss_sessions{state}: read from the manager when scraped, so the gauge is
// exact and costs nothing between scrapes.
class SessionStateCollector final : public prometheus::Collectable {
 public:
  explicit SessionStateCollector(std::function<StateCounts()> counts)
      : counts_(std::move(counts)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::function<StateCounts()> counts_;
};

}  // namespace gss

#endif  // SESSION_SERVICE_METRICS_H_
