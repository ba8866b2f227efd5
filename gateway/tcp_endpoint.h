// The TCP side of the gateway: accepts connections, reassembles length-
// prefixed frames, enforces per-peer limits, and writes the service's frames.
#ifndef GATEWAY_TCP_ENDPOINT_H_
#define GATEWAY_TCP_ENDPOINT_H_

#include <utility>
// clang-format off
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
// clang-format on

#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gateway/endpoint_context.h"

namespace gss::gateway {

struct TcpOptions {
  // Output queued for one peer beyond this drops it (slow_consumer): a
  // client that stops reading must not make the gateway buffer forever.
  size_t max_pending_bytes = 1 << 20;
  // After a service close: how long the final frame may take to drain.
  absl::Duration close_linger = absl::Seconds(5);
};

// The listener. Each accepted connection becomes a TcpPeer on its own strand.
class TcpEndpoint {
 public:
  TcpEndpoint(boost::asio::io_context& io, EndpointContext context,
              TcpOptions options);
  ~TcpEndpoint();

  // Binds and listens; may be called again after a failure (port 0 retries).
  absl::Status Open(const boost::asio::ip::tcp::endpoint& local);
  void Start();
  // Stops accepting (asynchronously, on the acceptor's strand).
  void Close();
  uint16_t port() const { return port_; }

 private:
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

  void Accept();
  void OnAccept(const boost::system::error_code& error,
                boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& io_;
  EndpointContext context_;
  const TcpOptions options_;
  Strand strand_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
  uint16_t port_ = 0;
};

}  // namespace gss::gateway

#endif  // GATEWAY_TCP_ENDPOINT_H_
