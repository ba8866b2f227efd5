// What both transports share: the peer registry, the event sink, metrics,
// connection ids, and the per-peer limits every peer is held to.
#ifndef GATEWAY_ENDPOINT_CONTEXT_H_
#define GATEWAY_ENDPOINT_CONTEXT_H_

#include <cstdint>

#include "gateway/metrics.h"
#include "gateway/peer_event_sink.h"
#include "gateway/peer_table.h"

namespace gss::gateway {

struct PeerLimits {
  uint32_t max_frame_size = 16384;  // Bytes of one game message.
  double rate = 200;                // Messages per second, sustained.
  double burst = 400;               // Messages in a burst.
};

// References outlive the endpoints (the Gateway owns them all).
struct EndpointContext {
  PeerTable& peers;
  PeerEventSink& sink;
  GatewayMetrics& metrics;
  ConnectionIdGenerator& ids;
  PeerLimits limits;
};

}  // namespace gss::gateway

#endif  // GATEWAY_ENDPOINT_CONTEXT_H_
