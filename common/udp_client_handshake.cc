#include "common/udp_client_handshake.h"

namespace gss {

UdpClientHandshake::UdpClientHandshake(uint64_t nonce,
                                       absl::Duration retransmit)
    : nonce_(nonce), retransmit_(retransmit) {}

std::optional<std::string> UdpClientHandshake::DatagramToSend(absl::Time now) {
  if (done() || now < next_send_at_) return std::nullopt;
  next_send_at_ = now + retransmit_;
  if (state_ == State::kRequesting) {
    return wire::EncodeConnectRequest({.nonce = nonce_});
  }
  return wire::EncodeChallengeResponse(
      {.nonce = challenge_->nonce,
       .issued_at_ms = challenge_->issued_at_ms,
       .cookie = challenge_->cookie});
}

absl::Time UdpClientHandshake::next_send_at() const {
  return done() ? absl::InfiniteFuture() : next_send_at_;
}

bool UdpClientHandshake::Receive(const wire::Datagram& datagram) {
  if (done()) return false;
  switch (datagram.type) {
    case wire::PacketType::kChallenge:
      if (state_ != State::kRequesting || datagram.challenge.nonce != nonce_) {
        return false;
      }
      challenge_ = datagram.challenge;
      state_ = State::kResponding;
      next_send_at_ = absl::InfinitePast();  // Answer at once.
      return true;
    case wire::PacketType::kAccepted:
      // Only a ChallengeResponse earns an Accepted (a repeated one the same
      // Accepted again); the nonce is what matches it to this attempt.
      if (state_ != State::kResponding || datagram.accepted.nonce != nonce_ ||
          datagram.accepted.connection_id == 0) {
        return false;
      }
      connection_id_ = datagram.accepted.connection_id;
      state_ = State::kAccepted;
      return true;
    case wire::PacketType::kDisconnect:
      // Before Accepted the gateway holds no peer for us: its refusals
      // carry connection id 0.
      if (datagram.disconnect.connection_id != 0) return false;
      refusal_ = datagram.disconnect.code;
      state_ = State::kRefused;
      return true;
    default:
      return false;
  }
}

}  // namespace gss
