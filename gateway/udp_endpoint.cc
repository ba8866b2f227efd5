#include "gateway/udp_endpoint.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <vector>

#include "absl/strings/str_cat.h"

namespace gss::gateway {

namespace asio = boost::asio;
using asio::ip::udp;

// A UDP peer: identity plus state touched only on the endpoint's strand.
class UdpPeer : public Peer, public std::enable_shared_from_this<UdpPeer> {
 public:
  UdpPeer(PeerIdentity identity, UdpEndpoint& owner, udp::endpoint remote,
          uint64_t nonce, const PeerLimits& limits,
          UdpEndpoint::Clock::time_point now)
      : Peer(std::move(identity)),
        owner_(owner),
        remote_(remote),
        key_(UdpAddressKey::From(remote)),
        nonce_(nonce),
        bucket_(limits.rate, limits.burst, now),
        last_heard_(now) {}

  void Deliver(std::string message) override {
    asio::post(owner_.strand_,
               [self = shared_from_this(), message = std::move(message)] {
                 self->owner_.SendData(*self, message);
               });
  }
  void CloseByService(std::string final_message, std::string) override {
    asio::post(owner_.strand_, [self = shared_from_this(),
                                final_message = std::move(final_message)] {
      self->owner_.CloseByService(*self, final_message);
    });
  }
  void CloseByGateway(wire::DisconnectCode code, std::string reason) override {
    asio::post(owner_.strand_,
               [self = shared_from_this(), code, reason = std::move(reason)] {
                 self->owner_.DropPeer(*self, code, reason);
               });
  }

 private:
  friend class UdpEndpoint;
  UdpEndpoint& owner_;

  // Strand-confined state.
  const udp::endpoint remote_;
  const UdpAddressKey key_;
  const uint64_t nonce_;  // Of the handshake that created the peer.
  wire::ReplayWindow replay_;
  uint64_t send_sequence_ = 0;
  TokenBucket bucket_;
  UdpEndpoint::Clock::time_point last_heard_;
  bool attached_ = true;  // Still in the table (and by_address_).
};

UdpEndpoint::UdpEndpoint(asio::io_context& io, EndpointContext context,
                         const CookieAuthority& cookies,
                         absl::Duration idle_timeout)
    : context_(context),
      cookies_(cookies),
      idle_timeout_(idle_timeout),
      strand_(asio::make_strand(io)),
      socket_(strand_),
      sweep_timer_(strand_) {}

UdpEndpoint::~UdpEndpoint() = default;

absl::Status UdpEndpoint::Open(const udp::endpoint& local) {
  boost::system::error_code ec;
  if (socket_.is_open()) socket_.close(ec);
  socket_.open(local.protocol(), ec);
  if (!ec) socket_.bind(local, ec);
  if (ec) {
    socket_.close();
    return absl::UnavailableError(
        absl::StrCat("cannot bind UDP ", local.address().to_string(), ":",
                     local.port(), ": ", ec.message()));
  }
  // Sends happen on the strand and must never block it: a full socket
  // buffer drops the datagram (counted) like any loss on the way.
  socket_.non_blocking(true, ec);
  // A larger receive buffer absorbs bursts; best effort.
  socket_.set_option(asio::socket_base::receive_buffer_size(4 << 20), ec);
  port_ = socket_.local_endpoint().port();
  return absl::OkStatus();
}

void UdpEndpoint::Start() {
  asio::post(strand_, [this] {
    Receive();
    ArmSweep();
  });
}

void UdpEndpoint::Close() {
  asio::post(strand_, [this] {
    boost::system::error_code ec;
    sweep_timer_.cancel();
    socket_.close(ec);
  });
}

uint64_t UdpEndpoint::NowMs(Clock::time_point now) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          now.time_since_epoch())
          .count());
}

void UdpEndpoint::Receive() {
  socket_.async_receive_from(
      asio::buffer(buffer_), sender_,
      asio::bind_executor(
          strand_, [this](const boost::system::error_code& error, size_t size) {
            OnReceive(error, size);
          }));
}

void UdpEndpoint::OnReceive(const boost::system::error_code& error,
                            size_t size) {
  if (error == asio::error::operation_aborted || !socket_.is_open()) return;
  if (error) {
    // Transient (e.g. an ICMP error surfaced on the socket): keep serving.
    Receive();
    return;
  }
  const Clock::time_point now = Clock::now();
  context_.metrics.CountPacket(Transport::kUdp, Direction::kIn, size);
  auto datagram = wire::ParseDatagram(absl::string_view(buffer_.data(), size));
  if (!datagram.ok()) {
    context_.metrics.Drop(DropReason::kMalformed);
  } else {
    switch (datagram->type) {
      case wire::PacketType::kConnectRequest:
        HandleConnectRequest(datagram->connect_request);
        break;
      case wire::PacketType::kChallengeResponse:
        HandleChallengeResponse(datagram->challenge_response, now);
        break;
      case wire::PacketType::kData:
        HandleData(datagram->data, now);
        break;
      case wire::PacketType::kDisconnect:
        HandleDisconnect(datagram->disconnect);
        break;
      case wire::PacketType::kChallenge:
      case wire::PacketType::kAccepted:
        context_.metrics.Drop(DropReason::kUnexpectedType);
        break;
    }
  }
  Receive();
}

void UdpEndpoint::HandleConnectRequest(const wire::ConnectRequest& request) {
  // Stateless: everything needed later is in the cookie. The 36-byte reply
  // answers a request padded to 64 bytes, so spoofing us amplifies nothing.
  wire::Challenge challenge;
  challenge.nonce = request.nonce;
  challenge.issued_at_ms = NowMs(Clock::now());
  challenge.cookie = cookies_.Mint(CookieInput{
      .address = AddressBytes(sender_.address()),
      .port = sender_.port(),
      .nonce = request.nonce,
      .issued_at_ms = challenge.issued_at_ms,
  });
  Send(wire::EncodeChallenge(challenge), sender_);
}

void UdpEndpoint::HandleChallengeResponse(
    const wire::ChallengeResponse& response, Clock::time_point now) {
  const absl::Status verified =
      cookies_.Verify(CookieInput{.address = AddressBytes(sender_.address()),
                                  .port = sender_.port(),
                                  .nonce = response.nonce,
                                  .issued_at_ms = response.issued_at_ms},
                      response.cookie, NowMs(now));
  if (!verified.ok()) {
    context_.metrics.Drop(verified.code() == absl::StatusCode::kDeadlineExceeded
                              ? DropReason::kExpiredCookie
                              : DropReason::kBadCookie);
    return;
  }
  const UdpAddressKey key = UdpAddressKey::From(sender_);
  if (auto it = by_address_.find(key); it != by_address_.end()) {
    UdpPeer& existing = *it->second;
    if (existing.nonce_ == response.nonce) {
      // A retransmitted response: the same answer, idempotently.
      Send(wire::EncodeAccepted(
               wire::Accepted{.nonce = response.nonce,
                              .connection_id = existing.connection_id()}),
           sender_);
      return;
    }
    // A new handshake from the same address and port: the client restarted
    // and its old connection is gone.
    // Nothing is sent: the address now belongs to the new handshake.
    DropPeer(existing, std::nullopt, "replaced");
  }

  const uint64_t id = context_.ids.Next();
  auto peer = std::make_shared<UdpPeer>(
      PeerIdentity{.connection_id = id,
                   .transport = Transport::kUdp,
                   .address = FormatAddress(sender_.address(), sender_.port())},
      *this, sender_, response.nonce, context_.limits, now);
  const absl::Status inserted = context_.peers.Insert(peer);
  if (!inserted.ok()) {
    const bool full = inserted.code() == absl::StatusCode::kResourceExhausted;
    context_.metrics.Drop(full ? DropReason::kServerFull
                               : DropReason::kShuttingDown);
    // 13 bytes answering 64: the client learns why instead of retrying.
    Send(wire::EncodeDisconnect(wire::Disconnect{
             .connection_id = 0,
             .code = full ? wire::DisconnectCode::kServerFull
                          : wire::DisconnectCode::kGatewayShutdown}),
         sender_);
    return;
  }
  by_address_[key] = peer;
  context_.sink.PeerConnected(peer->identity());
  Send(wire::EncodeAccepted(
           wire::Accepted{.nonce = response.nonce, .connection_id = id}),
       sender_);
}

void UdpEndpoint::HandleData(const wire::Data& data, Clock::time_point now) {
  auto it = by_address_.find(UdpAddressKey::From(sender_));
  if (it == by_address_.end()) {
    context_.metrics.Drop(DropReason::kUnknownPeer);
    return;
  }
  UdpPeer& peer = *it->second;
  if (data.connection_id != peer.connection_id()) {
    context_.metrics.Drop(DropReason::kWrongConnectionId);
    return;
  }
  if (!peer.replay_.Accept(data.sequence)) {
    context_.metrics.Drop(DropReason::kReplayed);
    return;
  }
  // Only datagrams that prove the connection id count against the peer, so
  // a spoofer who lacks it cannot get a peer dropped.
  peer.last_heard_ = now;
  if (!peer.bucket_.TryTake(now)) {
    context_.metrics.Drop(DropReason::kRateLimited);
    context_.metrics.PeerDropped(PeerDropReason::kRateLimited);
    DropPeer(peer, wire::DisconnectCode::kRateLimited, "rate_limited");
    return;
  }
  if (data.payload.size() > context_.limits.max_frame_size) {
    context_.metrics.Drop(DropReason::kFrameTooLarge);
    context_.metrics.PeerDropped(PeerDropReason::kFrameTooLarge);
    DropPeer(peer, wire::DisconnectCode::kFrameTooLarge, "frame_too_large");
    return;
  }
  context_.sink.PeerMessage(peer.connection_id(), std::string(data.payload));
}

void UdpEndpoint::HandleDisconnect(const wire::Disconnect& disconnect) {
  auto it = by_address_.find(UdpAddressKey::From(sender_));
  if (it == by_address_.end()) {
    context_.metrics.Drop(DropReason::kUnknownPeer);
    return;
  }
  std::shared_ptr<UdpPeer> peer = it->second;
  if (disconnect.connection_id != peer->connection_id()) {
    context_.metrics.Drop(DropReason::kWrongConnectionId);
    return;
  }
  if (!Detach(*peer)) return;
  const bool orderly = disconnect.code == wire::DisconnectCode::kGoodbye;
  context_.sink.PeerClosed(
      peer->connection_id(), orderly,
      orderly ? std::string()
              : absl::StrCat("client_disconnect_",
                             static_cast<int>(disconnect.code)));
}

bool UdpEndpoint::Detach(UdpPeer& peer) {
  if (!peer.attached_) return false;
  peer.attached_ = false;
  if (auto it = by_address_.find(peer.key_);
      it != by_address_.end() && it->second.get() == &peer) {
    by_address_.erase(it);
  }
  return context_.peers.Remove(peer.connection_id());
}

void UdpEndpoint::DropPeer(UdpPeer& peer,
                           std::optional<wire::DisconnectCode> code,
                           const std::string& reason) {
  // Keep the peer alive through the erase from by_address_.
  std::shared_ptr<UdpPeer> hold = peer.shared_from_this();
  if (!Detach(peer)) return;
  if (code.has_value()) {
    Send(wire::EncodeDisconnect(wire::Disconnect{
             .connection_id = peer.connection_id(), .code = *code}),
         peer.remote_);
  }
  context_.sink.PeerClosed(peer.connection_id(), /*orderly=*/false, reason);
}

void UdpEndpoint::CloseByService(UdpPeer& peer,
                                 const std::string& final_message) {
  std::shared_ptr<UdpPeer> hold = peer.shared_from_this();
  if (!Detach(peer)) return;
  context_.sink.PeerForgotten(peer.connection_id());
  if (!final_message.empty()) {
    if (wire::DataSize(final_message.size()) > wire::kMaxDatagramSize) {
      context_.metrics.Drop(DropReason::kOutboundTooLarge);
    } else {
      Send(wire::EncodeData(peer.connection_id(), ++peer.send_sequence_,
                            final_message),
           peer.remote_);
    }
  }
  Send(wire::EncodeDisconnect(
           wire::Disconnect{.connection_id = peer.connection_id(),
                            .code = wire::DisconnectCode::kClosedByService}),
       peer.remote_);
}

void UdpEndpoint::SendData(UdpPeer& peer, absl::string_view payload) {
  if (!peer.attached_) {
    context_.metrics.Drop(DropReason::kPeerClosed);
    return;
  }
  if (wire::DataSize(payload.size()) > wire::kMaxDatagramSize) {
    context_.metrics.Drop(DropReason::kOutboundTooLarge);
    return;
  }
  Send(wire::EncodeData(peer.connection_id(), ++peer.send_sequence_, payload),
       peer.remote_);
}

void UdpEndpoint::Send(const std::string& datagram, const udp::endpoint& to) {
  if (!socket_.is_open()) return;
  boost::system::error_code ec;
  socket_.send_to(asio::buffer(datagram), to, 0, ec);
  if (ec) {
    context_.metrics.Drop(DropReason::kSendFailed);
    return;
  }
  context_.metrics.CountPacket(Transport::kUdp, Direction::kOut,
                               datagram.size());
}

void UdpEndpoint::ArmSweep() {
  // A quarter of the timeout between sweeps: a peer is dropped at most 25%
  // late, and a sweep per second at most keeps large tables cheap.
  const absl::Duration interval =
      std::clamp(idle_timeout_ / 4, absl::Milliseconds(5), absl::Seconds(1));
  sweep_timer_.expires_after(absl::ToChronoMilliseconds(interval));
  sweep_timer_.async_wait([this](const boost::system::error_code& error) {
    if (error || !socket_.is_open()) return;
    Sweep();
    ArmSweep();
  });
}

void UdpEndpoint::Sweep() {
  const Clock::time_point cutoff =
      Clock::now() - absl::ToChronoMilliseconds(idle_timeout_);
  std::vector<std::shared_ptr<UdpPeer>> idle;
  for (const auto& [key, peer] : by_address_) {
    if (peer->last_heard_ < cutoff) idle.push_back(peer);
  }
  for (const auto& peer : idle) {
    context_.metrics.PeerDropped(PeerDropReason::kIdleTimeout);
    DropPeer(*peer, wire::DisconnectCode::kTimedOut, "idle_timeout");
  }
}

}  // namespace gss::gateway
