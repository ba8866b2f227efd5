// The gateway's view of one connected client, whatever its transport: its
// identity and the commands the session service can apply to it.
#ifndef GATEWAY_PEER_H_
#define GATEWAY_PEER_H_

#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "common/wire_format.h"

namespace gss::gateway {

enum class Transport : uint8_t { kUdp = 0, kTcp = 1 };
inline constexpr int kTransportCount = 2;

inline absl::string_view TransportName(Transport transport) {
  return transport == Transport::kUdp ? "udp" : "tcp";
}

// Remote identity: with the gateway id it names a peer across the system.
struct PeerIdentity {
  uint64_t connection_id = 0;
  Transport transport = Transport::kUdp;
  std::string address;  // "1.2.3.4:5" or "[::1]:5".
};

// Implemented per transport. Every method may be called from any thread; the
// work runs on the peer's own strand, so a peer's state is never shared.
class Peer {
 public:
  explicit Peer(PeerIdentity identity) : identity_(std::move(identity)) {}
  virtual ~Peer() = default;
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  const PeerIdentity& identity() const { return identity_; }
  uint64_t connection_id() const { return identity_.connection_id; }
  Transport transport() const { return identity_.transport; }

  // Sends one game message (a serialized ServerMessage) to the client.
  virtual void Deliver(std::string message) = 0;
  // The service closes the peer: send `final_message` (if not empty), then
  // close. The service is not told about it again.
  virtual void CloseByService(std::string final_message,
                              std::string reason) = 0;
  // The gateway drops the peer (e.g. shutting down) and tells the service
  // with PeerClosed{orderly=false, reason}.
  virtual void CloseByGateway(wire::DisconnectCode code,
                              std::string reason) = 0;

 private:
  const PeerIdentity identity_;
};

}  // namespace gss::gateway

#endif  // GATEWAY_PEER_H_
