// Watching lifecycle transitions: a TransitionSubscription is one
// observer's bounded queue, and a TransitionFeed is the set of subscriptions
// one shard publishes to (for every session, or for one). The event path
// never waits for an observer: a full queue drops its oldest and counts it.
#ifndef COMMON_TRANSITION_FEED_H_
#define COMMON_TRANSITION_FEED_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/session_lifecycle.h"
#include "common/session_types.h"

namespace gss {

// One lifecycle transition of one session, as told to the host and to
// observers.
struct SessionTransition {
  SessionId session;
  Transition transition;
  // The connection concerned: for a move to Reconnecting or Closed, the one
  // being left (the host closes it); otherwise the one bound after the
  // transition (the new one, for a resume).
  std::optional<RemoteIdentity> remote;
  std::string player_id;
  absl::Time at;
  uint32_t sequence = 0;  // 1 for the session's first transition, then +1.
};

// A bounded queue of transitions for one observer. The event path never
// waits for an observer: when the queue is full the oldest transition is
// dropped and counted, and Take() reports how many were lost.
class TransitionSubscription {
 public:
  struct Delivery {
    uint64_t lost = 0;  // Dropped since the previous Take(), before these.
    std::vector<SessionTransition> transitions;
    bool ended = false;  // No more will come (the session closed).
  };

  TransitionSubscription(size_t capacity, std::function<void()> on_ready);

  // Takes up to `max` queued transitions, oldest first.
  Delivery Take(size_t max = SIZE_MAX);
  uint64_t total_lost() const;
  size_t capacity() const { return capacity_; }
  // Runs on_ready: what the publisher does, outside its locks, for each
  // subscription Publish or EndSession reported ready.
  void NotifyReady() const {
    if (on_ready_) on_ready_();
  }

 private:
  friend class TransitionFeed;
  // Returns true when the queue went from empty to non-empty, so the caller
  // should run on_ready() once its locks are released.
  bool Push(const SessionTransition& transition);
  // Returns true when the reader has already taken everything, so the caller
  // should run on_ready() to let it see the end.
  bool End();

  const size_t capacity_;
  const std::function<void()> on_ready_;
  mutable absl::Mutex mu_;
  std::vector<SessionTransition> ring_ ABSL_GUARDED_BY(mu_);
  size_t head_ ABSL_GUARDED_BY(mu_) = 0;
  size_t size_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t lost_pending_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t lost_total_ ABSL_GUARDED_BY(mu_) = 0;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

// One shard's subscribers. Not thread-safe: the shard's lock guards it. A
// subscription's own lock is a leaf, taken under it.
class TransitionFeed {
 public:
  // Subscriptions to wake (TransitionSubscription::NotifyReady) once the
  // caller's locks are released.
  using Ready = std::vector<std::shared_ptr<TransitionSubscription>>;

  // Every transition this feed publishes, or only those of `session`.
  // The feed keeps weak references: a subscription whose reader let go is
  // forgotten at the next Publish.
  void Watch(const std::shared_ptr<TransitionSubscription>& subscription);
  void WatchSession(
      uint64_t session,
      const std::shared_ptr<TransitionSubscription>& subscription);

  // Queues `transition` for its session's subscribers and everyone's;
  // subscriptions whose queue was empty go to `ready`. Subscriptions the
  // reader dropped are forgotten here.
  void Publish(const SessionTransition& transition, Ready& ready);
  // `session` is gone (its closing transition published): its subscriptions
  // end, and those whose reader has taken everything go to `ready`, so that
  // it learns of the end.
  void EndSession(uint64_t session, Ready& ready);

 private:
  using List = std::vector<std::weak_ptr<TransitionSubscription>>;
  static void Deliver(List& list, const SessionTransition& transition,
                      Ready& ready);

  List every_session_;
  absl::flat_hash_map<uint64_t, List> by_session_;
};

}  // namespace gss

#endif  // COMMON_TRANSITION_FEED_H_
