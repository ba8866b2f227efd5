#include "gateway/metrics.h"

#include <string>

#include "prometheus/family.h"

#if defined(__SANITIZE_ADDRESS__)
// civetweb (under prometheus::Exposer) runs its HTTP threads on a small
// compiled-in stack; ASan's printf argument checking on top of mg_printf
// overflows it on every scrape. The gateway itself never uses printf, so
// builds with ASan skip that check by default (ASAN_OPTIONS still wins).
extern "C" const char* __asan_default_options() { return "check_printf=0"; }
#endif

namespace gss::gateway {

absl::string_view DropReasonName(DropReason reason) {
  switch (reason) {
    case DropReason::kMalformed:
      return "malformed";
    case DropReason::kUnexpectedType:
      return "unexpected_type";
    case DropReason::kUnknownPeer:
      return "unknown_peer";
    case DropReason::kWrongConnectionId:
      return "wrong_connection_id";
    case DropReason::kReplayed:
      return "replayed";
    case DropReason::kBadCookie:
      return "bad_cookie";
    case DropReason::kExpiredCookie:
      return "expired_cookie";
    case DropReason::kRateLimited:
      return "rate_limited";
    case DropReason::kFrameTooLarge:
      return "frame_too_large";
    case DropReason::kServerFull:
      return "server_full";
    case DropReason::kShuttingDown:
      return "shutting_down";
    case DropReason::kLinkQueueFull:
      return "link_queue_full";
    case DropReason::kUnknownConnectionId:
      return "unknown_connection_id";
    case DropReason::kOutboundTooLarge:
      return "outbound_too_large";
    case DropReason::kSendFailed:
      return "send_failed";
    case DropReason::kSlowConsumer:
      return "slow_consumer";
    case DropReason::kPeerClosed:
      return "peer_closed";
    case DropReason::kCount:
      break;
  }
  return "unknown";
}

absl::string_view PeerDropReasonName(PeerDropReason reason) {
  switch (reason) {
    case PeerDropReason::kRateLimited:
      return "rate_limited";
    case PeerDropReason::kFrameTooLarge:
      return "frame_too_large";
    case PeerDropReason::kIdleTimeout:
      return "idle_timeout";
    case PeerDropReason::kSlowConsumer:
      return "slow_consumer";
    case PeerDropReason::kCount:
      break;
  }
  return "unknown";
}

GatewayMetrics::GatewayMetrics()
    : registry_(std::make_shared<prometheus::Registry>()) {
  auto& packets = prometheus::BuildCounter()
                      .Name("gss_gateway_packets_total")
                      .Help(
                          "Datagrams (UDP) or frames (TCP) to and from game "
                          "clients.")
                      .Register(*registry_);
  auto& bytes = prometheus::BuildCounter()
                    .Name("gss_gateway_bytes_total")
                    .Help(
                        "Bytes to and from game clients on the wire "
                        "(datagrams, TCP stream bytes).")
                    .Register(*registry_);
  for (Transport t : {Transport::kUdp, Transport::kTcp}) {
    for (Direction d : {Direction::kIn, Direction::kOut}) {
      const std::map<std::string, std::string> labels = {
          {"transport", std::string(TransportName(t))},
          {"direction", d == Direction::kIn ? "in" : "out"}};
      packets_[static_cast<int>(t)][static_cast<int>(d)] = &packets.Add(labels);
      bytes_[static_cast<int>(t)][static_cast<int>(d)] = &bytes.Add(labels);
    }
  }
  auto& drops = prometheus::BuildCounter()
                    .Name("gss_gateway_drops_total")
                    .Help(
                        "Datagrams, frames, link events and commands the "
                        "gateway dropped, by reason.")
                    .Register(*registry_);
  for (int r = 0; r < static_cast<int>(DropReason::kCount); ++r) {
    drops_[r] = &drops.Add(
        {{"reason", std::string(DropReasonName(static_cast<DropReason>(r)))}});
  }
  auto& peer_drops = prometheus::BuildCounter()
                         .Name("gss_gateway_peers_dropped_total")
                         .Help("Peers the gateway disconnected, by reason.")
                         .Register(*registry_);
  for (int r = 0; r < static_cast<int>(PeerDropReason::kCount); ++r) {
    peer_drops_[r] = &peer_drops.Add(
        {{"reason",
          std::string(PeerDropReasonName(static_cast<PeerDropReason>(r)))}});
  }
  link_reconnects_ =
      &prometheus::BuildCounter()
           .Name("gss_gateway_link_reconnects_total")
           .Help(
               "Times the link to the session service was re-established "
               "after breaking or failing to connect.")
           .Register(*registry_)
           .Add({});
  pings_answered_ =
      &prometheus::BuildCounter()
           .Name("gss_gateway_pings_answered_total")
           .Help(
               "Heartbeat Pings answered at the gateway and reported to the "
               "session service in bulk, instead of forwarded one by one.")
           .Register(*registry_)
           .Add({});
  link_up_ = &prometheus::BuildGauge()
                  .Name("gss_gateway_link_up")
                  .Help(
                      "1 while the stream to the session service is open "
                      "and acknowledged.")
                  .Register(*registry_)
                  .Add({});
  link_queued_ = &prometheus::BuildGauge()
                      .Name("gss_gateway_link_queued_events")
                      .Help("Peer events waiting to be sent to the service.")
                      .Register(*registry_)
                      .Add({});
  batch_events_ =
      &prometheus::BuildHistogram()
           .Name("gss_gateway_link_batch_events")
           .Help("Peer events per EventBatch sent to the session service.")
           .Register(*registry_)
           .Add({}, prometheus::Histogram::BucketBoundaries{
                        1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024});
  auto& peers = prometheus::BuildGauge()
                    .Name("gss_gateway_peers")
                    .Help("Connected peers, by transport.")
                    .Register(*registry_);
  for (Transport t : {Transport::kUdp, Transport::kTcp}) {
    peers_[static_cast<int>(t)] =
        &peers.Add({{"transport", std::string(TransportName(t))}});
  }
}

}  // namespace gss::gateway
