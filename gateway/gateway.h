// The gateway process as a library: binds the game port (TCP and UDP) and the
// metrics port, runs the I/O threads and the service link, and stops cleanly.
#ifndef GATEWAY_GATEWAY_H_
#define GATEWAY_GATEWAY_H_

#include <utility>
// clang-format off
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
// clang-format on

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gateway/cookie.h"
#include "gateway/metrics.h"
#include "gateway/peer_table.h"
#include "gateway/service_link.h"

namespace gss::process {
class MetricsEndpoint;
}  // namespace gss::process

namespace gss::gateway {

class TcpEndpoint;
class UdpEndpoint;

// Every setting has a flag of the same name (gateway_main.cc); defaults are
// the documented ones (docs/configuration.md, "Gateway flags").
struct GatewayOptions {
  std::string game_address = "0.0.0.0:7777";
  std::string service_address = "127.0.0.1:7780";
  uint32_t gateway_id = 1;
  std::string gateway_name;  // Empty: the host name.
  int io_threads = 2;
  uint32_t max_frame_size = 16384;
  double peer_rate = 200;
  double peer_burst = 400;
  uint64_t max_peers = 100000;
  absl::Duration udp_idle_timeout = absl::Seconds(60);
  absl::Duration cookie_lifetime = absl::Seconds(10);
  uint32_t batch_max_events = 256;
  uint32_t batch_max_bytes = 1 << 20;
  absl::Duration batch_max_delay = absl::Milliseconds(1);
  absl::Duration link_backoff_initial = absl::Milliseconds(100);
  absl::Duration link_backoff_max = absl::Seconds(5);
  absl::Duration link_keepalive = absl::Seconds(10);
  bool answer_pings = true;
  absl::Duration liveness_report_interval = absl::Milliseconds(100);
  absl::Duration liveness_ack_timeout = absl::Milliseconds(500);
  uint64_t link_queue_max_events = 65536;
  uint64_t link_queue_max_bytes = 64 << 20;
  uint64_t tcp_max_pending_bytes = 1 << 20;
  std::string metrics_address = "0.0.0.0:9465";  // Empty: no HTTP server.
  // How long Stop() waits for peers to close and for the link to flush.
  absl::Duration shutdown_timeout = absl::Seconds(3);
};

// InvalidArgument naming the first bad setting.
absl::Status ValidateOptions(const GatewayOptions& options);

class Gateway {
 public:
  explicit Gateway(GatewayOptions options);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Binds everything, then starts the threads and the link. With port 0 the
  // OS picks the TCP port and UDP takes the same number (retried if taken).
  absl::Status Start();
  // Tells every peer (UDP Disconnect code 6, TCP close) and the service,
  // flushes the link and joins the threads. Idempotent.
  void Stop();

  uint16_t game_port() const { return game_port_; }
  uint16_t metrics_port() const { return metrics_port_; }
  uint64_t incarnation() const { return incarnation_; }
  GatewayMetrics& metrics() { return metrics_; }
  const PeerTable& peers() const { return peers_; }
  const ServiceLink& link() const { return *link_; }

 private:
  absl::Status BindGamePort();
  void OnCommand(link::v1::PeerCommand& command);
  // Tells every peer that the session service is out of reach, so clients
  // start their reconnect flow now instead of after a missed heartbeat.
  void OnLinkLost();

  const GatewayOptions options_;
  // Declared first, destroyed last: sockets held by peers, endpoints and
  // queued handlers must go before their io_context.
  boost::asio::io_context io_;  // TCP, run by --io_threads threads.
  // UDP has its own context and thread: all of UDP lives on one strand, so
  // more threads would only hand its handlers from one thread to another.
  boost::asio::io_context udp_io_;
  std::optional<
      boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>
      work_;
  std::optional<
      boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>
      udp_work_;
  GatewayMetrics metrics_;
  const uint64_t incarnation_;
  ConnectionIdGenerator ids_;
  CookieAuthority cookies_;
  PeerTable peers_;
  std::unique_ptr<ServiceLink> link_;
  std::unique_ptr<UdpEndpoint> udp_;
  std::unique_ptr<TcpEndpoint> tcp_;
  std::unique_ptr<process::MetricsEndpoint> metrics_endpoint_;
  std::vector<std::thread> threads_;
  uint16_t game_port_ = 0;
  uint16_t metrics_port_ = 0;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace gss::gateway

#endif  // GATEWAY_GATEWAY_H_
