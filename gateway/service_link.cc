#include "gateway/service_link.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <iostream>
#include <utility>

#include "absl/random/random.h"

namespace gss::gateway {
namespace {

namespace lv1 = ::gss::link::v1;

lv1::Transport ToProto(Transport transport) {
  return transport == Transport::kUdp ? lv1::TRANSPORT_UDP : lv1::TRANSPORT_TCP;
}

int ToMillis(absl::Duration d) {
  return static_cast<int>(
      std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 1, INT32_MAX));
}

}  // namespace

ServiceLink::ServiceLink(ServiceLinkOptions options, GatewayMetrics& metrics,
                         CommandHandler on_command,
                         LinkLostHandler on_link_lost)
    : options_(std::move(options)),
      metrics_(metrics),
      on_command_(std::move(on_command)),
      on_link_lost_(std::move(on_link_lost)) {}

ServiceLink::~ServiceLink() { Stop(absl::ZeroDuration()); }

void ServiceLink::Start() {
  absl::MutexLock lock(&mu_);
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] { Run(); });
}

void ServiceLink::Stop(absl::Duration timeout) {
  {
    absl::MutexLock lock(&mu_);
    if (!started_ || !thread_.joinable()) return;
    stopping_ = true;
    cv_.SignalAll();
    // Give the writer `timeout` to flush and the service to end the stream;
    // then cancel whatever is still blocked on the network.
    auto done = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return context_ == nullptr && !up_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  }
  // The run loop may be between streams or inside one; cancel until it ends.
  // Cancelling is idempotent and harmless on a finished call.
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (context_ != nullptr) context_->TryCancel();
      auto ended = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return context_ == nullptr;
      };
      if (mu_.AwaitWithTimeout(absl::Condition(&ended), absl::Seconds(1))) {
        break;
      }
    }
  }
  thread_.join();
}

bool ServiceLink::up() const {
  absl::MutexLock lock(&mu_);
  return up_;
}

bool ServiceLink::WaitUntilUp(bool up, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto reached = [this, up]()
                     ABSL_SHARED_LOCKS_REQUIRED(mu_) { return up_ == up; };
  return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
}

bool ServiceLink::WaitUntilAcknowledged(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto acked = [this]()
                   ABSL_SHARED_LOCKS_REQUIRED(mu_) { return up_ && acked_; };
  return mu_.AwaitWithTimeout(absl::Condition(&acked), timeout);
}

uint64_t ServiceLink::hello_acks() const {
  absl::MutexLock lock(&mu_);
  return hello_acks_;
}

std::string ServiceLink::service_instance_id() const {
  absl::MutexLock lock(&mu_);
  return instance_id_;
}

// --- Events from the transports ----------------------------------------------

void ServiceLink::PeerConnected(const PeerIdentity& identity) {
  absl::MutexLock lock(&mu_);
  peers_[identity.connection_id] =
      KnownPeer{identity.transport, identity.address};
  // While down, the peer set is the whole truth: the next Hello carries it.
  if (!up_) return;
  EnqueueLocked(Event{.kind = EventKind::kConnected,
                      .transport = identity.transport,
                      .connection_id = identity.connection_id,
                      .data = identity.address});
}

void ServiceLink::PeerMessage(uint64_t connection_id, std::string message) {
  absl::MutexLock lock(&mu_);
  if (queued_messages_ >= options_.max_queued_events ||
      queued_bytes_ + message.size() > options_.max_queued_bytes) {
    metrics_.Drop(DropReason::kLinkQueueFull);
    return;
  }
  ++queued_messages_;
  EnqueueLocked(Event{.kind = EventKind::kMessage,
                      .connection_id = connection_id,
                      .data = std::move(message)});
}

bool ServiceLink::PeerPinged(uint64_t connection_id,
                             std::optional<absl::Duration> rtt) {
  if (!options_.answer_pings) return false;
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  // Only a service that has acknowledged this stream, and its recent
  // reports, is vouched for by a Pong from here.
  if (!up_ || !acked_ || broken_ || stopping_) return false;
  if (!unacked_reports_.empty() &&
      now - unacked_reports_.front().sent_at > options_.liveness_ack_timeout) {
    return false;
  }
  const bool first = answered_pings_.empty();
  answered_pings_[connection_id] = rtt ? absl::ToInt64Microseconds(*rtt) : -1;
  // The writer plans the report's time; later heartbeats just join it.
  if (first) cv_.Signal();
  return true;
}

void ServiceLink::PeerClosed(uint64_t connection_id, bool orderly,
                             std::string reason) {
  absl::MutexLock lock(&mu_);
  peers_.erase(connection_id);
  // The service learns of the close; a heartbeat after it would be noise.
  answered_pings_.erase(connection_id);
  if (!up_) return;
  EnqueueLocked(Event{.kind = EventKind::kClosed,
                      .orderly = orderly,
                      .connection_id = connection_id,
                      .data = std::move(reason)});
}

void ServiceLink::PeerForgotten(uint64_t connection_id) {
  absl::MutexLock lock(&mu_);
  peers_.erase(connection_id);
  answered_pings_.erase(connection_id);
}

void ServiceLink::EnqueueLocked(Event event) {
  const bool was_empty = queue_.empty();
  queued_bytes_ += event.data.size();
  queue_.push_back(std::move(event));
  // With events queued the writer sleeps until its next write is due; it
  // only needs a wake-up for the first event or a batch that fills early.
  if (was_empty || queue_.size() == options_.batch_max_events ||
      queued_bytes_ >= options_.batch_max_bytes) {
    cv_.Signal();
  }
}

bool ServiceLink::BatchReadyLocked() const {
  return queue_.size() >= options_.batch_max_events ||
         queued_bytes_ >= options_.batch_max_bytes;
}

void ServiceLink::AddLivenessReportLocked(lv1::EventBatch& batch,
                                          absl::Time now) {
  if (answered_pings_.empty()) return;
  lv1::LivenessReport* report = batch.mutable_liveness();
  report->set_report_id(next_report_id_++);
  report->mutable_connection_ids()->Reserve(
      static_cast<int>(answered_pings_.size()));
  report->mutable_rtt_us()->Reserve(static_cast<int>(answered_pings_.size()));
  for (const auto& [connection_id, rtt_us] : answered_pings_) {
    report->add_connection_ids(connection_id);
    report->add_rtt_us(rtt_us);
  }
  answered_pings_.clear();
  unacked_reports_.push_back(SentReport{report->report_id(), now});
  last_report_ = now;
}

void ServiceLink::LivenessAppliedLocked(uint64_t report_id) {
  while (!unacked_reports_.empty() &&
         unacked_reports_.front().id <= report_id) {
    unacked_reports_.pop_front();
  }
}

// --- The stream --------------------------------------------------------------

void ServiceLink::Run() {
  absl::BitGen random;
  absl::Duration backoff = options_.backoff_initial;
  for (;;) {
    const bool acked = RunStream();
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    if (acked) backoff = options_.backoff_initial;
    // Equal jitter: half the backoff fixed, half random, so that gateways
    // that lost the same service do not all come back in the same instant.
    const absl::Duration delay =
        backoff / 2 + absl::Uniform(random, 0.0, 1.0) * (backoff / 2);
    backoff = std::min(backoff * 2, options_.backoff_max);
    auto stop = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&stop), delay)) return;
    metrics_.LinkReconnect();
  }
}

bool ServiceLink::RunStream() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, ToMillis(options_.keepalive));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, ToMillis(options_.keepalive));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Keep pinging an idle stream; by default gRPC stops after two pings
  // without data, which would hide a dead service on a quiet link.
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // A channel per attempt with its own subchannel, so that gRPC's internal
  // reconnect backoff never stacks on top of ours.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS,
              ToMillis(std::max(options_.backoff_max, absl::Seconds(1))));
  args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, -1);
  auto channel = grpc::CreateCustomChannel(
      options_.target, grpc::InsecureChannelCredentials(), args);
  auto stub = lv1::GatewayLink::NewStub(channel);

  grpc::ClientContext context;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    context_ = &context;
    broken_ = false;
    acked_ = false;
  }
  std::unique_ptr<Stream> stream = stub->Attach(&context);

  lv1::GatewayMessage hello;
  {
    absl::MutexLock lock(&mu_);
    hello = StartStreamLocked();
  }
  bool ok = stream->Write(hello);
  std::thread reader;
  if (ok) reader = std::thread([this, s = stream.get()] { ReadLoop(s); });

  bool graceful = false;
  // Batches start at least batch_max_delay apart unless one fills: an event
  // after a quiet spell goes out at once, and under load the events that
  // arrive within one interval share a write. A fixed wait per event would
  // add the delay to every event even when the link is idle.
  absl::Time last_write = absl::InfinitePast();
  while (ok) {
    lv1::GatewayMessage message;
    size_t events = 0;
    {
      absl::MutexLock lock(&mu_);
      for (;;) {
        if (broken_ || stopping_ || BatchReadyLocked()) break;
        const absl::Time now = absl::Now();
        // Events wait for the next write slot; answered heartbeats for the
        // next report, unless a batch of events takes them first.
        absl::Time wake = absl::InfiniteFuture();
        if (!queue_.empty()) {
          wake = last_write + options_.batch_max_delay;
        }
        if (!answered_pings_.empty()) {
          wake =
              std::min(wake, last_report_ + options_.liveness_report_interval);
        }
        if (now >= wake) break;
        if (wake == absl::InfiniteFuture()) {
          cv_.Wait(&mu_);
        } else {
          cv_.WaitWithDeadline(&mu_, wake);
        }
      }
      last_write = absl::Now();
      if (broken_) break;
      if (stopping_ && queue_.empty()) {
        graceful = true;
        break;
      }
      auto* batch = message.mutable_events();
      size_t bytes = 0;
      while (!queue_.empty() && events < options_.batch_max_events &&
             (events == 0 || bytes < options_.batch_max_bytes)) {
        Event& event = queue_.front();
        bytes += event.data.size();
        queued_bytes_ -= event.data.size();
        lv1::PeerEvent* out = batch->add_events();
        out->set_connection_id(event.connection_id);
        switch (event.kind) {
          case EventKind::kConnected: {
            lv1::Peer* peer = out->mutable_connected()->mutable_peer();
            peer->set_connection_id(event.connection_id);
            peer->set_address(std::move(event.data));
            peer->set_transport(ToProto(event.transport));
            break;
          }
          case EventKind::kMessage:
            --queued_messages_;
            out->set_message(std::move(event.data));
            break;
          case EventKind::kClosed:
            out->mutable_closed()->set_orderly(event.orderly);
            out->mutable_closed()->set_reason(std::move(event.data));
            break;
        }
        queue_.pop_front();
        ++events;
      }
      AddLivenessReportLocked(*batch, last_write);
      metrics_.SetLinkQueued(queue_.size());
    }
    if (events > 0) metrics_.Batch(events);
    if (!stream->Write(message)) ok = false;
  }

  {
    absl::MutexLock lock(&mu_);
    up_ = false;
  }
  metrics_.LinkUp(false);
  if (graceful) {
    // Half-close; a well-behaved service then ends the call, which ends the
    // reader. Stop() cancels if it does not.
    stream->WritesDone();
  } else {
    context.TryCancel();
  }
  if (reader.joinable()) reader.join();
  const grpc::Status status = stream->Finish();
  bool acked = false;
  bool stopping = false;
  {
    absl::MutexLock lock(&mu_);
    acked = acked_;
    stopping = stopping_;
    context_ = nullptr;
    // Log transitions, not every retry against a service that is down.
    failures_in_a_row_ = acked ? 0 : failures_in_a_row_ + 1;
    if (!stopping_ &&
        (acked || failures_in_a_row_ == 1 || failures_in_a_row_ % 100 == 0)) {
      std::cerr << "gateway: link to " << options_.target
                << (acked ? " broke" : " failed") << " (" << status.error_code()
                << ": " << status.error_message() << ")";
      if (failures_in_a_row_ > 1) {
        std::cerr << "; " << failures_in_a_row_ << " failures in a row";
      }
      std::cerr << "; reconnecting\n";
    }
  }
  if (acked && !stopping && on_link_lost_) on_link_lost_();
  return acked;
}

lv1::GatewayMessage ServiceLink::StartStreamLocked() {
  lv1::GatewayMessage message;
  lv1::Hello* hello = message.mutable_hello();
  hello->set_gateway_id(options_.gateway_id);
  hello->set_gateway_name(options_.gateway_name);
  hello->set_incarnation(options_.incarnation);
  for (const auto& [id, peer] : peers_) {
    lv1::Peer* out = hello->add_peers();
    out->set_connection_id(id);
    out->set_address(peer.address);
    out->set_transport(ToProto(peer.transport));
  }
  // Hello states who is connected, so queued connect/close events are moot;
  // messages of peers that are still here go out after it, in order.
  std::deque<Event> kept;
  queued_bytes_ = 0;
  queued_messages_ = 0;
  for (Event& event : queue_) {
    if (event.kind != EventKind::kMessage) continue;
    if (!peers_.contains(event.connection_id)) continue;
    queued_bytes_ += event.data.size();
    ++queued_messages_;
    kept.push_back(std::move(event));
  }
  queue_.swap(kept);
  // Reports are numbered per stream; the old stream's will never be
  // acknowledged. Heartbeats not yet reported go out on this one.
  next_report_id_ = 1;
  unacked_reports_.clear();
  up_ = true;
  return message;
}

void ServiceLink::ReadLoop(Stream* stream) {
  lv1::ServiceMessage message;
  while (stream->Read(&message)) {
    switch (message.body_case()) {
      case lv1::ServiceMessage::kHelloAck: {
        absl::MutexLock lock(&mu_);
        acked_ = true;
        ++hello_acks_;
        metrics_.LinkUp(true);
        instance_id_ = message.hello_ack().instance_id();
        std::cerr << "gateway: link to " << options_.target
                  << " up (service instance " << instance_id_ << ", "
                  << message.hello_ack().unknown_connection_ids_size()
                  << " peers unknown to it)\n";
        break;
      }
      case lv1::ServiceMessage::kCommands:
        if (const uint64_t applied = message.commands().liveness_applied();
            applied != 0) {
          absl::MutexLock lock(&mu_);
          LivenessAppliedLocked(applied);
        }
        for (lv1::PeerCommand& command :
             *message.mutable_commands()->mutable_commands()) {
          on_command_(command);
        }
        break;
      case lv1::ServiceMessage::BODY_NOT_SET:
        break;
    }
  }
  absl::MutexLock lock(&mu_);
  broken_ = true;
  cv_.SignalAll();
}

}  // namespace gss::gateway
