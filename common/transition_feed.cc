#include "common/transition_feed.h"

#include <algorithm>
#include <utility>

namespace gss {

TransitionSubscription::TransitionSubscription(size_t capacity,
                                               std::function<void()> on_ready)
    : capacity_(std::max<size_t>(capacity, 1)), on_ready_(std::move(on_ready)) {
  ring_.resize(capacity_);
}

bool TransitionSubscription::Push(const SessionTransition& transition) {
  absl::MutexLock lock(&mu_);
  if (ended_) return false;
  const bool was_empty = size_ == 0;
  if (size_ == capacity_) {
    head_ = (head_ + 1) % capacity_;
    --size_;
    ++lost_pending_;
    ++lost_total_;
  }
  ring_[(head_ + size_) % capacity_] = transition;
  ++size_;
  return was_empty;
}

bool TransitionSubscription::End() {
  absl::MutexLock lock(&mu_);
  const bool was_ended = std::exchange(ended_, true);
  return !was_ended && size_ == 0;
}

TransitionSubscription::Delivery TransitionSubscription::Take(size_t max) {
  absl::MutexLock lock(&mu_);
  Delivery delivery;
  delivery.lost = std::exchange(lost_pending_, 0);
  const size_t count = std::min(max, size_);
  delivery.transitions.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    delivery.transitions.push_back(std::move(ring_[head_]));
    head_ = (head_ + 1) % capacity_;
  }
  size_ -= count;
  delivery.ended = ended_ && size_ == 0;
  return delivery;
}

uint64_t TransitionSubscription::total_lost() const {
  absl::MutexLock lock(&mu_);
  return lost_total_;
}

void TransitionFeed::Watch(
    const std::shared_ptr<TransitionSubscription>& subscription) {
  every_session_.push_back(subscription);
}

void TransitionFeed::WatchSession(
    uint64_t session,
    const std::shared_ptr<TransitionSubscription>& subscription) {
  by_session_[session].push_back(subscription);
}

void TransitionFeed::Deliver(List& list, const SessionTransition& transition,
                             Ready& ready) {
  std::erase_if(list, [&](const std::weak_ptr<TransitionSubscription>& weak) {
    std::shared_ptr<TransitionSubscription> subscription = weak.lock();
    if (subscription == nullptr) return true;
    if (subscription->Push(transition)) {
      ready.push_back(std::move(subscription));
    }
    return false;
  });
}

void TransitionFeed::Publish(const SessionTransition& transition,
                             Ready& ready) {
  if (!every_session_.empty()) Deliver(every_session_, transition, ready);
  if (!by_session_.empty()) {
    auto it = by_session_.find(transition.session.value);
    if (it != by_session_.end()) Deliver(it->second, transition, ready);
  }
}

void TransitionFeed::EndSession(uint64_t session, Ready& ready) {
  auto it = by_session_.find(session);
  if (it == by_session_.end()) return;
  for (const auto& weak : it->second) {
    std::shared_ptr<TransitionSubscription> subscription = weak.lock();
    // The closing transition was just queued, and its Push woke the reader
    // if the queue had been empty; wake it again only if it has already
    // taken everything, so it learns of the end.
    if (subscription != nullptr && subscription->End()) {
      ready.push_back(std::move(subscription));
    }
  }
  by_session_.erase(it);
}

}  // namespace gss
