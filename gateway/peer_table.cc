#include "gateway/peer_table.h"

#include <utility>

namespace gss::gateway {

// The peer is moved into the table; clang-tidy 14 misses the move made
// under the lock.
// NOLINTNEXTLINE(performance-unnecessary-value-param)
absl::Status PeerTable::Insert(std::shared_ptr<Peer> peer) {
  const Transport transport = peer->transport();
  size_t count = 0;
  {
    absl::MutexLock lock(&mu_);
    if (!admitting_) return absl::UnavailableError("gateway shutting down");
    if (peers_.size() >= max_peers_) {
      return absl::ResourceExhaustedError("gateway full");
    }
    const uint64_t id = peer->connection_id();
    if (!peers_.emplace(id, std::move(peer)).second) {
      return absl::AlreadyExistsError("duplicate connection id");
    }
    count = ++counts_[static_cast<int>(transport)];
    // Under the lock so that listeners see counts in order.
    if (listener_) listener_(transport, count);
  }
  return absl::OkStatus();
}

std::shared_ptr<Peer> PeerTable::Find(uint64_t connection_id) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = peers_.find(connection_id);
  return it == peers_.end() ? nullptr : it->second;
}

bool PeerTable::Remove(uint64_t connection_id) {
  std::shared_ptr<Peer> removed;  // Destroyed outside the lock.
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(connection_id);
  if (it == peers_.end()) return false;
  removed = std::move(it->second);
  peers_.erase(it);
  const Transport transport = removed->transport();
  const size_t count = --counts_[static_cast<int>(transport)];
  if (listener_) listener_(transport, count);
  return true;
}

std::vector<std::shared_ptr<Peer>> PeerTable::Snapshot() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<std::shared_ptr<Peer>> out;
  out.reserve(peers_.size());
  for (const auto& [id, peer] : peers_) out.push_back(peer);
  return out;
}

size_t PeerTable::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return peers_.size();
}

size_t PeerTable::count(Transport transport) const {
  absl::ReaderMutexLock lock(&mu_);
  return counts_[static_cast<int>(transport)];
}

void PeerTable::StopAdmitting() {
  absl::MutexLock lock(&mu_);
  admitting_ = false;
}

bool PeerTable::WaitUntilEmpty(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto empty = [this]()
                   ABSL_SHARED_LOCKS_REQUIRED(mu_) { return peers_.empty(); };
  return mu_.AwaitWithTimeout(absl::Condition(&empty), timeout);
}

}  // namespace gss::gateway
