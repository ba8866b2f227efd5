// Where the transports report what their peers do (connect, send, close): the
// service link in production, a recorder in tests of an endpoint alone.
#ifndef GATEWAY_PEER_EVENT_SINK_H_
#define GATEWAY_PEER_EVENT_SINK_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "gateway/peer.h"

namespace gss::gateway {

// Calls for one peer come from that peer's strand, so they are ordered:
// PeerConnected, then messages, then at most one of PeerClosed/PeerForgotten.
// Implementations must be thread-safe across peers.
class PeerEventSink {
 public:
  virtual ~PeerEventSink() = default;
  virtual void PeerConnected(const PeerIdentity& identity) = 0;
  virtual void PeerMessage(uint64_t connection_id, std::string message) = 0;
  // The peer sent a Ping the endpoint can answer itself (edge_heartbeat.h).
  // True: the sink takes it as the peer's heartbeat, to report to the
  // service, and the endpoint sends the Pong. False: the Ping goes to the
  // service as a message like any other, which is what sinks that do not
  // collect heartbeats always answer.
  virtual bool PeerPinged(uint64_t /*connection_id*/,
                          std::optional<absl::Duration> /*rtt*/) {
    return false;
  }
  // The peer is gone and the service must be told (PeerClosed).
  virtual void PeerClosed(uint64_t connection_id, bool orderly,
                          std::string reason) = 0;
  // The peer is gone because the service closed it: nothing to tell.
  virtual void PeerForgotten(uint64_t connection_id) = 0;
};

}  // namespace gss::gateway

#endif  // GATEWAY_PEER_EVENT_SINK_H_
