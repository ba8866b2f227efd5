// The client's side of the UDP challenge handshake (docs/protocol.md, "The
// challenge handshake"), as an I/O-free state machine in netcode's manner:
// the caller asks what to send at `now` and hands in what arrives. Every
// client of the project (the game runtime, the load generator, the test
// clients) drives this one.
#ifndef COMMON_UDP_CLIENT_HANDSHAKE_H_
#define COMMON_UDP_CLIENT_HANDSHAKE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "common/wire_format.h"

namespace gss {

class UdpClientHandshake {
 public:
  enum class State : uint8_t {
    kRequesting,  // Sending ConnectRequest until a Challenge for our nonce.
    kResponding,  // Sending ChallengeResponse until Accepted.
    kAccepted,    // Done: connection_id() is the gateway's id for us.
    kRefused,     // The gateway answered Disconnect (full, shutting down).
  };

  // `nonce` identifies this attempt (random, and kept for its retransmits);
  // each step is sent again every `retransmit` until answered.
  explicit UdpClientHandshake(uint64_t nonce,
                              absl::Duration retransmit = absl::Seconds(1));

  // The datagram due at `now`, or nullopt until next_send_at(). The first
  // call sends at once, and so does the first after a Challenge.
  std::optional<std::string> DatagramToSend(absl::Time now);
  // When the next datagram is due; InfiniteFuture once accepted or refused.
  absl::Time next_send_at() const;

  // A datagram from the gateway. Returns true when it moved the state on
  // (the caller may want to send or report at once); repeats, other
  // nonces and anything but the handshake's answers change nothing.
  bool Receive(const wire::Datagram& datagram);

  State state() const { return state_; }
  bool done() const {
    return state_ == State::kAccepted || state_ == State::kRefused;
  }
  uint64_t nonce() const { return nonce_; }
  uint64_t connection_id() const { return connection_id_; }
  // The Disconnect code of a refusal.
  std::optional<wire::DisconnectCode> refusal() const { return refusal_; }
  // The Challenge answered, once there is one.
  const std::optional<wire::Challenge>& challenge() const { return challenge_; }

 private:
  const uint64_t nonce_;
  const absl::Duration retransmit_;
  State state_ = State::kRequesting;
  absl::Time next_send_at_ = absl::InfinitePast();
  std::optional<wire::Challenge> challenge_;
  uint64_t connection_id_ = 0;
  std::optional<wire::DisconnectCode> refusal_;
};

}  // namespace gss

#endif  // COMMON_UDP_CLIENT_HANDSHAKE_H_
