#include "session_service/gateway_link_service.h"

#include <algorithm>
#include <iostream>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "session_service/grpc_status.h"

namespace gss {

// The queue between the host (any thread, possibly under session locks) and
// the one thread allowed to write the stream.
class StreamCommandSink final : public CommandSink {
 public:
  StreamCommandSink(grpc::ServerContext* context, const LinkOptions& options,
                    std::shared_ptr<ServiceMetrics> metrics)
      : context_(context), options_(options), metrics_(std::move(metrics)) {}

  void Push(link::v1::PeerCommand command) override {
    bool cancel = false;
    {
      absl::MutexLock lock(&mu_);
      if (state_ != State::kOpen) {
        if (metrics_) metrics_->CountDroppedCommand(false);
        return;
      }
      if (queue_.size() < options_.max_queued) {
        queue_.push_back(std::move(command));
        return;
      }
      if (metrics_) metrics_->CountDroppedCommand(true);
      cancel = !overflowed_;
      overflowed_ = true;
    }
    // At once, not by the writer: it may be the one stuck in a write.
    if (cancel) {
      std::cerr << "session_service: a gateway's link queue is full ("
                << options_.max_queued << " commands); cancelling its stream\n";
      context_->TryCancel();
    }
  }

  // Cancels the stream when a write has been in flight longer than
  // max_write_stall. True when it did.
  bool CancelIfStalled(absl::Time now) {
    {
      absl::MutexLock lock(&mu_);
      if (!writing_ || stall_cancelled_ ||
          now - write_started_ < options_.max_write_stall) {
        return false;
      }
      stall_cancelled_ = true;
    }
    std::cerr << "session_service: a write to a gateway has not completed in "
              << options_.max_write_stall << "; cancelling its stream\n";
    context_->TryCancel();
    return true;
  }

  using Stream = grpc::ServerReaderWriter<link::v1::ServiceMessage,
                                          link::v1::GatewayMessage>;

  // The writer thread: sends batches until the stream fails or the sink is
  // finished and empty. It waits while the reader writes (see
  // ReleaseAndWrite), since a stream takes one write at a time.
  void WriteLoop(Stream* stream) {
    for (;;) {
      std::vector<link::v1::PeerCommand> batch;
      uint64_t ack = 0;
      bool write = false;
      bool cancel = false;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](StreamCommandSink* self) {
              // Await evaluates the condition with mu_ held.
              self->mu_.AssertHeld();
              return !self->writing_ &&
                     (((!self->queue_.empty() || self->ack_pending_) &&
                       !self->held_) ||
                      self->overflowed_ || self->state_ != State::kOpen);
            },
            this));
        if (overflowed_) {
          cancel = true;
        } else if (queue_.empty() && !ack_pending_) {
          cancel = state_ == State::kFlushThenCancel;
        } else {
          batch = TakeBatchLocked();
          writing_ = true;
          write_started_ = absl::Now();
          ack = TakeAckLocked();
          write = true;
        }
        if (!write) state_ = State::kDone;
      }
      if (!write) {
        // After the last write, so the gateway receives every command (the
        // final Disconnects of a shutdown) before the stream ends.
        if (cancel) context_->TryCancel();
        return;
      }
      if (!WriteDone(WriteBatch(stream, batch, ack))) return;
    }
  }

  // The gateway's liveness report `report_id` is applied: say so in the next
  // batch, which goes even if it carries no command. Reader thread only,
  // while held.
  void LivenessApplied(uint64_t report_id) {
    if (report_id == 0) return;  // Not a report id: nothing to acknowledge.
    absl::MutexLock lock(&mu_);
    liveness_applied_ = std::max(liveness_applied_, report_id);
    ack_pending_ = true;
  }

  // While the reader applies one event batch, its replies are only queued:
  // they leave together in one CommandBatch when it releases, instead of the
  // first reply going alone and the rest in a second write.
  void Hold() {
    absl::MutexLock lock(&mu_);
    held_ = true;
  }
  // Ends the hold. When no write is in flight the reader writes the queue
  // itself: handing it to the writer thread would cost two thread switches
  // per event batch, which at idle rates is much of the link's cost.
  void ReleaseAndWrite(Stream* stream) {
    std::vector<link::v1::PeerCommand> batch;
    uint64_t ack = 0;
    {
      absl::MutexLock lock(&mu_);
      held_ = false;
      if (state_ != State::kOpen || overflowed_ || writing_ ||
          (queue_.empty() && !ack_pending_)) {
        return;
      }
      batch = TakeBatchLocked();
      writing_ = true;
      write_started_ = absl::Now();
      ack = TakeAckLocked();
    }
    WriteDone(WriteBatch(stream, batch, ack));
  }

  // The reader is done: stop once the queue is empty.
  void Finish() {
    absl::MutexLock lock(&mu_);
    if (state_ == State::kOpen) state_ = State::kFinishing;
  }

  // Shutdown: send what is queued, then end the stream.
  void FlushThenCancel() {
    absl::MutexLock lock(&mu_);
    if (state_ == State::kOpen || state_ == State::kFinishing) {
      state_ = State::kFlushThenCancel;
    }
  }

 private:
  enum class State { kOpen, kFinishing, kFlushThenCancel, kDone };

  // Up to max_batch commands, bounded in bytes too, well under the
  // gateway's 4 MiB default receive limit.
  std::vector<link::v1::PeerCommand> TakeBatchLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    size_t take = 0;
    size_t bytes = 0;
    while (take < queue_.size() && take < options_.max_batch &&
           (take == 0 || bytes < options_.max_batch_bytes)) {
      bytes += queue_[take].ByteSizeLong();
      ++take;
    }
    std::vector<link::v1::PeerCommand> batch(
        std::make_move_iterator(queue_.begin()),
        std::make_move_iterator(queue_.begin() + take));
    queue_.erase(queue_.begin(), queue_.begin() + take);
    return batch;
  }

  // The acknowledgement to send with the next batch, or 0.
  uint64_t TakeAckLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!ack_pending_) return 0;
    ack_pending_ = false;
    return liveness_applied_;
  }

  bool WriteBatch(Stream* stream, std::vector<link::v1::PeerCommand>& batch,
                  uint64_t liveness_applied) {
    link::v1::ServiceMessage message;
    link::v1::CommandBatch* commands = message.mutable_commands();
    commands->set_liveness_applied(liveness_applied);
    commands->mutable_commands()->Reserve(static_cast<int>(batch.size()));
    for (link::v1::PeerCommand& command : batch) {
      *commands->add_commands() = std::move(command);
    }
    if (metrics_ && !batch.empty()) {
      metrics_->ObserveCommandBatch(batch.size());
    }
    return stream->Write(message);
  }

  // Ends a write; false (and the sink done) when the stream failed.
  bool WriteDone(bool ok) {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      state_ = State::kDone;
      queue_.clear();
    }
    return ok;
  }

  grpc::ServerContext* const context_;
  const LinkOptions options_;
  const std::shared_ptr<ServiceMetrics> metrics_;
  absl::Mutex mu_;
  std::vector<link::v1::PeerCommand> queue_ ABSL_GUARDED_BY(mu_);
  State state_ ABSL_GUARDED_BY(mu_) = State::kOpen;
  bool overflowed_ ABSL_GUARDED_BY(mu_) = false;
  bool held_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;  // A Write is in flight.
  absl::Time write_started_ ABSL_GUARDED_BY(mu_);
  bool stall_cancelled_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t liveness_applied_ ABSL_GUARDED_BY(mu_) = 0;
  bool ack_pending_ ABSL_GUARDED_BY(mu_) = false;
};

GatewayLinkService::GatewayLinkService(ServerNetworkHost& host,
                                       std::shared_ptr<ServiceMetrics> metrics,
                                       LinkOptions options)
    : host_(host), metrics_(std::move(metrics)), options_(options) {
  stall_watch_ = std::thread([this] { WatchForStalls(); });
}

GatewayLinkService::~GatewayLinkService() {
  {
    absl::MutexLock lock(&mu_);
    destroying_ = true;
  }
  stall_watch_.join();
}

void GatewayLinkService::WatchForStalls() {
  // Often enough that a stall is caught within a quarter of the limit.
  const absl::Duration period = std::clamp(
      options_.max_write_stall / 4, absl::Milliseconds(10), absl::Seconds(1));
  absl::MutexLock lock(&mu_);
  while (!mu_.AwaitWithTimeout(absl::Condition(&destroying_), period)) {
    const absl::Time now = absl::Now();
    for (StreamCommandSink* sink : open_) sink->CancelIfStalled(now);
  }
}

grpc::Status GatewayLinkService::Attach(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<link::v1::ServiceMessage,
                             link::v1::GatewayMessage>* stream) {
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "the session service is stopping");
    }
  }
  link::v1::GatewayMessage first;
  if (!stream->Read(&first)) {
    return grpc::Status(grpc::StatusCode::CANCELLED,
                        "the stream ended before Hello");
  }
  if (!first.has_hello()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first message of Attach must be Hello");
  }
  const uint32_t gateway_id = first.hello().gateway_id();
  auto sink = std::make_shared<StreamCommandSink>(context, options_, metrics_);
  absl::StatusOr<GatewayAttachment> attached =
      host_.AttachGateway(first.hello(), sink);
  if (!attached.ok()) return ToGrpc(attached.status());
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) {
      host_.DetachGateway(gateway_id, attached->attachment);
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "the session service is stopping");
    }
    open_.insert(sink.get());
  }

  // HelloAck first: commands the resynchronisation queued go after it.
  link::v1::ServiceMessage ack;
  *ack.mutable_hello_ack() = std::move(attached->ack);
  grpc::Status status = grpc::Status::OK;
  if (stream->Write(ack)) {
    std::thread writer([&sink, stream] { sink->WriteLoop(stream); });
    link::v1::GatewayMessage message;
    while (stream->Read(&message)) {
      if (message.has_events()) {
        sink->Hold();
        host_.HandleEvents(gateway_id, message.events());
        if (message.events().has_liveness()) {
          sink->LivenessApplied(message.events().liveness().report_id());
        }
        sink->ReleaseAndWrite(stream);
      } else if (message.has_hello()) {
        status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                              "Hello is only valid as the first message");
        sink->FlushThenCancel();
        break;
      }
    }
    sink->Finish();
    writer.join();
  }
  {
    absl::MutexLock lock(&mu_);
    open_.erase(sink.get());
  }
  host_.DetachGateway(gateway_id, attached->attachment);
  if (status.ok() && context->IsCancelled()) {
    status = grpc::Status(grpc::StatusCode::CANCELLED, "the link ended");
  }
  return status;
}

void GatewayLinkService::Shutdown(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  shutting_down_ = true;
  for (StreamCommandSink* sink : open_) sink->FlushThenCancel();
  mu_.AwaitWithDeadline(absl::Condition(
                            +[](absl::flat_hash_set<StreamCommandSink*>* open) {
                              return open->empty();
                            },
                            &open_),
                        deadline);
}

}  // namespace gss
