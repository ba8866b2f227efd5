// The registry of live peers by connection id, shared by the transports (which
// add and remove) and the service link (which looks peers up for commands).
#ifndef GATEWAY_PEER_TABLE_H_
#define GATEWAY_PEER_TABLE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/peer.h"

namespace gss::gateway {

// Connection ids unique per gateway process: 32 random bits chosen at start,
// then a counter, so ids of two incarnations practically never collide.
class ConnectionIdGenerator {
 public:
  explicit ConnectionIdGenerator(uint32_t random_high) : high_(random_high) {}
  uint64_t Next() {
    return uint64_t{high_} << 32 |
           counter_.fetch_add(1, std::memory_order_relaxed);
  }

 private:
  const uint32_t high_;
  std::atomic<uint32_t> counter_{1};
};

// Thread-safe. Removal is the single point that decides who closes a peer:
// of several racing close paths only the one whose Remove returns true acts.
class PeerTable {
 public:
  // Called with the new count of a transport after each change (for gauges).
  using CountListener = std::function<void(Transport, size_t)>;

  explicit PeerTable(size_t max_peers, CountListener listener = nullptr)
      : max_peers_(max_peers), listener_(std::move(listener)) {}

  // ResourceExhausted when full, Unavailable after StopAdmitting,
  // AlreadyExists for a duplicate id.
  absl::Status Insert(std::shared_ptr<Peer> peer);
  std::shared_ptr<Peer> Find(uint64_t connection_id) const;
  // True when this call removed the peer.
  bool Remove(uint64_t connection_id);

  std::vector<std::shared_ptr<Peer>> Snapshot() const;
  size_t size() const;
  size_t count(Transport transport) const;

  // Refuses every later Insert (shutdown).
  void StopAdmitting();
  // True when the table became empty within `timeout`.
  bool WaitUntilEmpty(absl::Duration timeout) const;

 private:
  const size_t max_peers_;
  const CountListener listener_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, std::shared_ptr<Peer>> peers_
      ABSL_GUARDED_BY(mu_);
  std::array<size_t, kTransportCount> counts_ ABSL_GUARDED_BY(mu_){};
  bool admitting_ ABSL_GUARDED_BY(mu_) = true;
};

}  // namespace gss::gateway

#endif  // GATEWAY_PEER_TABLE_H_
