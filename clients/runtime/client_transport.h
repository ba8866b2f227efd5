// One connection from a game client to the gateway, over TCP frames or UDP
// datagrams with the challenge handshake (docs/protocol.md), on Boost.Asio.
#ifndef CLIENTS_RUNTIME_CLIENT_TRANSPORT_H_
#define CLIENTS_RUNTIME_CLIENT_TRANSPORT_H_

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>  // Before Boost.Asio (Boost 1.74 with C++20).

#include "absl/time/time.h"

namespace gss::client {

enum class TransportKind : uint8_t { kTcp, kUdp };

struct TransportOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  // UDP: resend ConnectRequest / ChallengeResponse after this long without
  // an answer (same nonce, so the gateway's answers are idempotent).
  absl::Duration udp_retransmit_interval = absl::Seconds(1);
};

// Everything a transport reports. Always invoked from the io_context, never
// from inside Open/Send/Close, so the caller may re-enter freely. Nothing is
// reported after Close().
struct TransportCallbacks {
  std::function<void()> on_connected;
  std::function<void(std::string payload)> on_message;
  // The transport ended (failed to open, reset, EOF, UDP Disconnect or
  // ICMP refusal); `why` is for logs and events.
  std::function<void(std::string why)> on_closed;
};

class ClientTransport {
 public:
  virtual ~ClientTransport() = default;
  virtual void Open() = 0;
  // Queues one game payload (a serialized ClientMessage).
  virtual void Send(std::string payload) = 0;
  // Ends the transport. `orderly` tells the gateway (UDP Disconnect code 0;
  // TCP flushes queued frames before closing), which ends the session on the
  // server; without it the session stays resumable.
  virtual void Close(bool orderly) = 0;
};

// The transport lives as long as its pending operations; the returned
// handle only starts and stops it.
std::shared_ptr<ClientTransport> MakeTransport(TransportKind kind,
                                               boost::asio::io_context& io,
                                               const TransportOptions& options,
                                               TransportCallbacks callbacks);

}  // namespace gss::client

#endif  // CLIENTS_RUNTIME_CLIENT_TRANSPORT_H_
