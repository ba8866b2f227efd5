#include "session_service/metrics.h"

#include <deque>
#include <set>
#include <tuple>
#include <utility>

#include "common/session_lifecycle.h"
#include "prometheus/family.h"

namespace gss {
namespace {

using Triple = std::tuple<int, int, int>;  // from, to, cause

// Every (from, to, cause) the lifecycle can produce, found by walking the
// state machine itself under both holding policies, so the pre-created series
// never drift from the table in common/.
std::set<Triple> ReachableTransitions() {
  std::set<Triple> found;
  for (const LifecycleRules rules :
       {LifecycleRules{true, 1}, LifecycleRules{true, 3},
        LifecycleRules{false, 1}}) {
    std::set<std::pair<int, int>> seen;  // state, failed resumes
    std::deque<SessionLifecycle> queue{SessionLifecycle()};
    while (!queue.empty()) {
      const SessionLifecycle current = queue.front();
      queue.pop_front();
      if (!seen.emplace(static_cast<int>(current.state()),
                        current.failed_resumes())
               .second) {
        continue;
      }
      for (int e = 0; e < kSessionEventCount; ++e) {
        SessionLifecycle next = current;
        absl::StatusOr<std::optional<Transition>> applied =
            next.Apply(static_cast<SessionEvent>(e), rules);
        if (!applied.ok()) continue;
        if (applied->has_value()) {
          const Transition& t = **applied;
          found.emplace(static_cast<int>(t.from), static_cast<int>(t.to),
                        static_cast<int>(t.cause));
        }
        queue.push_back(next);
      }
    }
  }
  return found;
}

prometheus::Histogram::BucketBoundaries RttBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
}

prometheus::Histogram::BucketBoundaries BatchBuckets() {
  return {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
}

std::string Name(absl::string_view view) { return std::string(view); }

}  // namespace

ServiceMetrics::ServiceMetrics()
    : registry_(std::make_shared<prometheus::Registry>()) {
  auto& transitions =
      prometheus::BuildCounter()
          .Name("gss_session_transitions_total")
          .Help(
              "Session lifecycle transitions by from state, to state and "
              "the event that caused them")
          .Register(*registry_);
  for (const auto& [from, to, cause] : ReachableTransitions()) {
    transitions_[from][to][cause] = &transitions.Add(
        {{"from", Name(SessionStateName(static_cast<SessionState>(from)))},
         {"to", Name(SessionStateName(static_cast<SessionState>(to)))},
         {"cause", Name(SessionEventName(static_cast<SessionEvent>(cause)))}});
  }

  auto& closed = prometheus::BuildCounter()
                     .Name("gss_sessions_closed_total")
                     .Help("Sessions closed, by close reason")
                     .Register(*registry_);
  for (int r = 1; r < kCloseReasonCount; ++r) {
    closed_[r] = &closed.Add(
        {{"reason", Name(CloseReasonName(static_cast<CloseReason>(r)))}});
  }

  auto& inputs = prometheus::BuildCounter()
                     .Name("gss_inputs_total")
                     .Help(
                         "MoveInput and ShootInput messages by kind and "
                         "outcome (accepted or the rejection reason)")
                     .Register(*registry_);
  for (int kind = 0; kind < 2; ++kind) {
    for (int r = 0; r < kInputRejectionCount; ++r) {
      const auto rejection = static_cast<InputRejection>(r);
      inputs_[kind][r] =
          &inputs.Add({{"kind", kind == 0 ? "move" : "shoot"},
                       {"outcome", rejection == InputRejection::kNone
                                       ? "accepted"
                                       : Name(InputRejectionName(rejection))}});
    }
  }

  malformed_ = &prometheus::BuildCounter()
                    .Name("gss_malformed_messages_total")
                    .Help(
                        "Game messages that could not be parsed or had no "
                        "body; each was answered with InputRejected")
                    .Register(*registry_)
                    .Add({});

  auto& logins = prometheus::BuildCounter()
                     .Name("gss_logins_total")
                     .Help("Login attempts by outcome")
                     .Register(*registry_);
  logins_[0] = &logins.Add({{"outcome", "accepted"}});
  for (int r = 0; r < kLoginRefusalCount; ++r) {
    logins_[1 + r] = &logins.Add(
        {{"outcome", Name(LoginRefusalName(static_cast<LoginRefusal>(r)))}});
  }

  auto& resumes = prometheus::BuildCounter()
                      .Name("gss_resumes_total")
                      .Help("Resume attempts by outcome")
                      .Register(*registry_);
  resumes_[0] = &resumes.Add({{"outcome", "accepted"}});
  for (int r = 0; r < kResumeRefusalCount; ++r) {
    resumes_[1 + r] = &resumes.Add(
        {{"outcome", Name(ResumeRefusalName(static_cast<ResumeRefusal>(r)))}});
  }

  rtt_ = &prometheus::BuildHistogram()
              .Name("gss_heartbeat_rtt_seconds")
              .Help(
                  "Round-trip time measured from the echo fields of Ping, "
                  "by the service or by the gateway that answered it")
              .Register(*registry_)
              .Add({}, RttBuckets());

  auto& heartbeats = prometheus::BuildCounter()
                         .Name("gss_heartbeats_total")
                         .Help(
                             "Heartbeats applied to sessions, by who answered "
                             "the Ping: the service, or a gateway at the edge "
                             "that reported it in bulk")
                         .Register(*registry_);
  heartbeats_by_service_ = &heartbeats.Add({{"answered_by", "service"}});
  heartbeats_by_gateway_ = &heartbeats.Add({{"answered_by", "gateway"}});

  auto& batches = prometheus::BuildHistogram()
                      .Name("gss_link_batch_size")
                      .Help(
                          "Items per gateway link batch: events received, "
                          "commands sent")
                      .Register(*registry_);
  event_batches_ = &batches.Add({{"direction", "events"}}, BatchBuckets());
  command_batches_ = &batches.Add({{"direction", "commands"}}, BatchBuckets());

  attaches_ = &prometheus::BuildCounter()
                   .Name("gss_link_attaches_total")
                   .Help("Gateway link streams attached (Hello accepted)")
                   .Register(*registry_)
                   .Add({});
  gateways_ = &prometheus::BuildGauge()
                   .Name("gss_link_gateways")
                   .Help("Gateways attached now")
                   .Register(*registry_)
                   .Add({});
  auto& dropped = prometheus::BuildCounter()
                      .Name("gss_link_commands_dropped_total")
                      .Help(
                          "Commands not sent: the gateway was not attached "
                          "or its queue was full")
                      .Register(*registry_);
  dropped_no_gateway_ = &dropped.Add({{"reason", "no_gateway"}});
  dropped_queue_full_ = &dropped.Add({{"reason", "queue_full"}});
  dropped_events_ = &prometheus::BuildCounter()
                         .Name("gss_link_events_dropped_total")
                         .Help(
                             "Peer events for connections the service "
                             "holds no session for")
                         .Register(*registry_)
                         .Add({});
  draining_ = &prometheus::BuildGauge()
                   .Name("gss_draining")
                   .Help("1 while the service drains before shutting down")
                   .Register(*registry_)
                   .Add({});
}

void ServiceMetrics::OnTransition(const SessionTransition& transition) {
  const Transition& t = transition.transition;
  if (prometheus::Counter* counter = transitions_[static_cast<int>(
          t.from)][static_cast<int>(t.to)][static_cast<int>(t.cause)]) {
    counter->Increment();
  }
  if (t.to == SessionState::kClosed && closed_[static_cast<int>(t.reason)]) {
    closed_[static_cast<int>(t.reason)]->Increment();
  }
}

void ServiceMetrics::CountInput(InputKind kind, InputRejection rejection) {
  inputs_[static_cast<int>(kind)][static_cast<int>(rejection)]->Increment();
}

void ServiceMetrics::CountMalformed() { malformed_->Increment(); }

void ServiceMetrics::CountLogin(std::optional<LoginRefusal> refusal) {
  logins_[refusal ? 1 + static_cast<int>(*refusal) : 0]->Increment();
}

void ServiceMetrics::CountResume(std::optional<ResumeRefusal> refusal) {
  resumes_[refusal ? 1 + static_cast<int>(*refusal) : 0]->Increment();
}

void ServiceMetrics::ObserveRtt(absl::Duration rtt) {
  rtt_->Observe(absl::ToDoubleSeconds(rtt));
}

void ServiceMetrics::CountHeartbeat(bool answered_by_gateway) {
  (answered_by_gateway ? heartbeats_by_gateway_ : heartbeats_by_service_)
      ->Increment();
}

double ServiceMetrics::HeartbeatCount(bool answered_by_gateway) const {
  return (answered_by_gateway ? heartbeats_by_gateway_ : heartbeats_by_service_)
      ->Value();
}

void ServiceMetrics::ObserveEventBatch(size_t events) {
  event_batches_->Observe(static_cast<double>(events));
}

void ServiceMetrics::ObserveCommandBatch(size_t commands) {
  command_batches_->Observe(static_cast<double>(commands));
}

void ServiceMetrics::CountAttach() { attaches_->Increment(); }

void ServiceMetrics::SetGatewaysAttached(size_t gateways) {
  gateways_->Set(static_cast<double>(gateways));
}

void ServiceMetrics::CountDroppedCommand(bool queue_full) {
  (queue_full ? dropped_queue_full_ : dropped_no_gateway_)->Increment();
}

void ServiceMetrics::CountDroppedEvent() { dropped_events_->Increment(); }

void ServiceMetrics::SetDraining(bool draining) {
  draining_->Set(draining ? 1 : 0);
}

double ServiceMetrics::InputCount(InputKind kind,
                                  InputRejection rejection) const {
  return inputs_[static_cast<int>(kind)][static_cast<int>(rejection)]->Value();
}

double ServiceMetrics::MalformedCount() const { return malformed_->Value(); }

double ServiceMetrics::LoginCount(absl::string_view outcome) const {
  if (outcome == "accepted") return logins_[0]->Value();
  for (int r = 0; r < kLoginRefusalCount; ++r) {
    if (LoginRefusalName(static_cast<LoginRefusal>(r)) == outcome) {
      return logins_[1 + r]->Value();
    }
  }
  return 0;
}

double ServiceMetrics::ClosedCount(CloseReason reason) const {
  prometheus::Counter* counter = closed_[static_cast<int>(reason)];
  return counter == nullptr ? 0 : counter->Value();
}

double ServiceMetrics::AttachCount() const { return attaches_->Value(); }

uint64_t ServiceMetrics::RttSamples() const {
  return rtt_->Collect().histogram.sample_count;
}

std::vector<prometheus::MetricFamily> SessionStateCollector::Collect() const {
  const StateCounts counts = counts_();
  prometheus::MetricFamily family;
  family.name = "gss_sessions";
  family.help = "Sessions held now, by lifecycle state";
  family.type = prometheus::MetricType::Gauge;
  // Closed sessions are removed at once, so "closed" is always 0 and left out.
  for (int s = 0; s < kSessionStateCount; ++s) {
    const auto state = static_cast<SessionState>(s);
    if (state == SessionState::kClosed) continue;
    prometheus::ClientMetric metric;
    metric.label.push_back({"state", Name(SessionStateName(state))});
    metric.gauge.value = static_cast<double>(counts.by_state[s]);
    family.metric.push_back(std::move(metric));
  }
  return {std::move(family)};
}

}  // namespace gss
