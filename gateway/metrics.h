// The gateway's Prometheus metrics: families registered once, every labelled
// child bound up front so the packet path only does atomic increments.
#ifndef GATEWAY_METRICS_H_
#define GATEWAY_METRICS_H_

#include <array>
#include <cstdint>
#include <memory>

#include "absl/strings/string_view.h"
#include "gateway/peer.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace gss::gateway {

enum class Direction : uint8_t { kIn = 0, kOut = 1 };

// Why something (a datagram, frame, event or command) was dropped. A closed
// set, so the label has bounded cardinality.
enum class DropReason : uint8_t {
  kMalformed,            // Bad magic/version/type/size.
  kUnexpectedType,       // A well-formed gateway->client type sent to us.
  kUnknownPeer,          // Data/Disconnect from an address that is no peer.
  kWrongConnectionId,    // Data/Disconnect whose id is not the address's.
  kReplayed,             // Sequence already seen or too old.
  kBadCookie,            // ChallengeResponse whose cookie does not verify.
  kExpiredCookie,        // ChallengeResponse older than the cookie lifetime.
  kRateLimited,          // The message that broke a peer's rate limit.
  kFrameTooLarge,        // Over --max_frame_size.
  kServerFull,           // A new peer beyond --max_peers.
  kShuttingDown,         // A new peer while the gateway stops.
  kLinkQueueFull,        // An event beyond the link's bounded queue.
  kUnknownConnectionId,  // A service command for a peer we do not hold.
  kOutboundTooLarge,     // A delivery that does not fit one UDP datagram.
  kSendFailed,           // The socket refused a datagram (buffer full).
  kSlowConsumer,         // TCP output beyond the per-peer pending limit.
  kPeerClosed,           // A delivery that raced with the peer's close.
  kCount,
};
absl::string_view DropReasonName(DropReason reason);

// Why the gateway ended a peer (not the client or the service).
enum class PeerDropReason : uint8_t {
  kRateLimited,
  kFrameTooLarge,
  kIdleTimeout,
  kSlowConsumer,
  kCount,
};
absl::string_view PeerDropReasonName(PeerDropReason reason);

class GatewayMetrics {
 public:
  GatewayMetrics();

  const std::shared_ptr<prometheus::Registry>& registry() const {
    return registry_;
  }

  void CountPacket(Transport transport, Direction direction, size_t bytes) {
    const int t = static_cast<int>(transport);
    const int d = static_cast<int>(direction);
    packets_[t][d]->Increment();
    bytes_[t][d]->Increment(static_cast<double>(bytes));
  }
  // Bytes on a stream without a packet (TCP reads can split frames).
  void CountBytes(Transport transport, Direction direction, size_t bytes) {
    bytes_[static_cast<int>(transport)][static_cast<int>(direction)]->Increment(
        static_cast<double>(bytes));
  }
  // Frames count as packets on TCP.
  void CountFrames(Transport transport, Direction direction, size_t frames) {
    packets_[static_cast<int>(transport)][static_cast<int>(direction)]
        ->Increment(static_cast<double>(frames));
  }
  void Drop(DropReason reason, double n = 1) {
    drops_[static_cast<int>(reason)]->Increment(n);
  }
  void PeerDropped(PeerDropReason reason) {
    peer_drops_[static_cast<int>(reason)]->Increment();
  }
  void LinkReconnect() { link_reconnects_->Increment(); }
  void PingAnswered() { pings_answered_->Increment(); }
  void LinkUp(bool up) { link_up_->Set(up ? 1 : 0); }
  void Batch(size_t events) {
    batch_events_->Observe(static_cast<double>(events));
  }
  void SetPeers(Transport transport, size_t count) {
    peers_[static_cast<int>(transport)]->Set(static_cast<double>(count));
  }
  void SetLinkQueued(size_t events) {
    link_queued_->Set(static_cast<double>(events));
  }

  // Read-back for tests and logs.
  double drops(DropReason reason) const {
    return drops_[static_cast<int>(reason)]->Value();
  }
  double peer_drops(PeerDropReason reason) const {
    return peer_drops_[static_cast<int>(reason)]->Value();
  }
  double packets(Transport transport, Direction direction) const {
    return packets_[static_cast<int>(transport)][static_cast<int>(direction)]
        ->Value();
  }
  double link_reconnects() const { return link_reconnects_->Value(); }
  double pings_answered() const { return pings_answered_->Value(); }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::array<std::array<prometheus::Counter*, 2>, kTransportCount> packets_{};
  std::array<std::array<prometheus::Counter*, 2>, kTransportCount> bytes_{};
  std::array<prometheus::Counter*, static_cast<int>(DropReason::kCount)>
      drops_{};
  std::array<prometheus::Counter*, static_cast<int>(PeerDropReason::kCount)>
      peer_drops_{};
  prometheus::Counter* link_reconnects_ = nullptr;
  prometheus::Counter* pings_answered_ = nullptr;
  prometheus::Gauge* link_up_ = nullptr;
  prometheus::Gauge* link_queued_ = nullptr;
  prometheus::Histogram* batch_events_ = nullptr;
  std::array<prometheus::Gauge*, kTransportCount> peers_{};
};

}  // namespace gss::gateway

#endif  // GATEWAY_METRICS_H_
