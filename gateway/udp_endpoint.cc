#include "gateway/udp_endpoint.h"

#include <errno.h>
#include <sys/socket.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gateway/edge_heartbeat.h"
#include "gss/link/v1/close_reasons.h"

namespace gss::gateway {

namespace asio = boost::asio;
using asio::ip::udp;

// A UDP peer: identity plus state touched only on the endpoint's strand.
class UdpPeer : public Peer, public std::enable_shared_from_this<UdpPeer> {
 public:
  UdpPeer(PeerIdentity identity, UdpEndpoint& owner,
          const udp::endpoint& remote, uint64_t nonce, const PeerLimits& limits,
          UdpEndpoint::Clock::time_point now)
      : Peer(std::move(identity)),
        owner_(owner),
        remote_(remote),
        key_(UdpAddressKey::From(remote)),
        nonce_(nonce),
        bucket_(limits.rate, limits.burst, now),
        last_heard_(now) {}

  void Deliver(std::string message) override {
    owner_.Enqueue({.peer = shared_from_this(),
                    .kind = UdpEndpoint::Command::Kind::kDeliver,
                    .text = std::move(message)});
  }
  void CloseByService(std::string final_message, std::string reason) override {
    // The client asked for this close with Goodbye: its answer is the
    // orderly code, not "closed by the service" (which promises a
    // Disconnect game message first).
    const wire::DisconnectCode code =
        reason == link::v1::kGoodbyeCloseReason
            ? wire::DisconnectCode::kGoodbye
            : wire::DisconnectCode::kClosedByService;
    owner_.Enqueue({.peer = shared_from_this(),
                    .kind = UdpEndpoint::Command::Kind::kCloseByService,
                    .code = code,
                    .text = std::move(final_message)});
  }
  void CloseByGateway(wire::DisconnectCode code, std::string reason) override {
    owner_.Enqueue({.peer = shared_from_this(),
                    .kind = UdpEndpoint::Command::Kind::kCloseByGateway,
                    .code = code,
                    .text = std::move(reason)});
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
      sweep_timer_(strand_),
      buffers_(new Buffer[kReceiveBatch]) {
  for (int i = 0; i < kReceiveBatch; ++i) {
    receive_iov_[i] = iovec{buffers_[i].data(), buffers_[i].size()};
  }
}

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
    WaitReadable();
    ArmSweep();
  });
}

void UdpEndpoint::Close() {
  asio::post(strand_, [this] {
    FlushSends();
    boost::system::error_code ec;
    sweep_timer_.cancel();
    socket_.close(ec);
  });
}

void UdpEndpoint::Enqueue(Command command) {
  bool first = false;
  {
    absl::MutexLock lock(&commands_mu_);
    first = commands_.empty();
    commands_.push_back(std::move(command));
  }
  // A post is already pending for a non-empty queue; it takes this one too.
  if (first) asio::post(strand_, [this] { RunCommands(); });
}

void UdpEndpoint::RunCommands() {
  std::vector<Command> commands;
  {
    absl::MutexLock lock(&commands_mu_);
    commands.swap(commands_);
  }
  for (Command& command : commands) {
    UdpPeer& peer = *command.peer;
    switch (command.kind) {
      case Command::Kind::kDeliver:
        SendData(peer, command.text);
        break;
      case Command::Kind::kCloseByService:
        CloseByService(peer, command.code, command.text);
        break;
      case Command::Kind::kCloseByGateway:
        DropPeer(peer, command.code, command.text);
        break;
    }
  }
  FlushSends();
}

uint64_t UdpEndpoint::NowMs(Clock::time_point now) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          now.time_since_epoch())
          .count());
}

void UdpEndpoint::WaitReadable() {
  socket_.async_wait(
      udp::socket::wait_read,
      asio::bind_executor(strand_,
                          [this](const boost::system::error_code& error) {
                            OnReadable(error);
                          }));
}

void UdpEndpoint::OnReadable(const boost::system::error_code& error) {
  if (error == asio::error::operation_aborted || !socket_.is_open()) return;
  // A few batches per wake-up, then the strand's other work gets a turn.
  constexpr int kBatchesPerTurn = 4;
  bool drained = false;
  for (int turn = 0; turn < kBatchesPerTurn && !drained; ++turn) {
    for (int i = 0; i < kReceiveBatch; ++i) {
      msghdr& header = receive_msgs_[i].msg_hdr;
      header = msghdr{};
      header.msg_name = &receive_addr_[i];
      header.msg_namelen = sizeof(receive_addr_[i]);
      header.msg_iov = &receive_iov_[i];
      header.msg_iovlen = 1;
    }
    const int received =
        ::recvmmsg(socket_.native_handle(), receive_msgs_.data(), kReceiveBatch,
                   MSG_DONTWAIT, nullptr);
    // EAGAIN: drained. Any other error is transient (e.g. an ICMP error
    // surfaced on the socket): wait for readiness again.
    drained = received < kReceiveBatch;
    if (received <= 0) break;
    const Clock::time_point now = Clock::now();
    for (int i = 0; i < received; ++i) {
      const msghdr& header = receive_msgs_[i].msg_hdr;
      if (header.msg_namelen > sender_.capacity()) continue;
      std::memcpy(sender_.data(), header.msg_name, header.msg_namelen);
      sender_.resize(header.msg_namelen);
      HandleDatagram(
          absl::string_view(buffers_[i].data(), receive_msgs_[i].msg_len), now);
    }
  }
  FlushSends();
  if (drained || !socket_.is_open()) {
    if (socket_.is_open()) WaitReadable();
    return;
  }
  // More may be queued, and readiness is edge-triggered: come back to it
  // after the work already waiting on the strand.
  asio::post(strand_, [this] { OnReadable({}); });
}

void UdpEndpoint::HandleDatagram(absl::string_view bytes,
                                 Clock::time_point now) {
  context_.metrics.CountPacket(Transport::kUdp, Direction::kIn, bytes.size());
  auto datagram = wire::ParseDatagram(bytes);
  if (!datagram.ok()) {
    context_.metrics.Drop(DropReason::kMalformed);
    return;
  }
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
  if (AnswerAtEdge(peer, data.payload)) return;
  context_.sink.PeerMessage(peer.connection_id(), std::string(data.payload));
}

bool UdpEndpoint::AnswerAtEdge(UdpPeer& peer, absl::string_view payload) {
  if (!MayBePing(payload)) return false;
  std::optional<EdgePong> answer =
      AnswerPing(payload, absl::ToUnixMicros(absl::Now()));
  if (!answer || !context_.sink.PeerPinged(peer.connection_id(), answer->rtt)) {
    return false;
  }
  context_.metrics.PingAnswered();
  SendData(peer, answer->pong);
  return true;
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
  context_.peers.Remove(peer->connection_id());
}

bool UdpEndpoint::Detach(UdpPeer& peer) {
  if (!peer.attached_) return false;
  peer.attached_ = false;
  if (auto it = by_address_.find(peer.key_);
      it != by_address_.end() && it->second.get() == &peer) {
    by_address_.erase(it);
  }
  return true;
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
  context_.peers.Remove(peer.connection_id());
}

void UdpEndpoint::CloseByService(UdpPeer& peer, wire::DisconnectCode code,
                                 const std::string& final_message) {
  std::shared_ptr<UdpPeer> hold = peer.shared_from_this();
  if (!Detach(peer)) return;
  context_.sink.PeerForgotten(peer.connection_id());
  context_.peers.Remove(peer.connection_id());
  if (!final_message.empty()) {
    if (wire::DataSize(final_message.size()) > wire::kMaxDatagramSize) {
      context_.metrics.Drop(DropReason::kOutboundTooLarge);
    } else {
      Send(wire::EncodeData(peer.connection_id(), ++peer.send_sequence_,
                            final_message),
           peer.remote_);
    }
  }
  Send(wire::EncodeDisconnect(wire::Disconnect{
           .connection_id = peer.connection_id(), .code = code}),
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

void UdpEndpoint::Send(std::string datagram, const udp::endpoint& to) {
  if (!socket_.is_open()) return;
  outgoing_.push_back(Outgoing{std::move(datagram), to});
}

void UdpEndpoint::FlushSends() {
  if (outgoing_.empty()) return;
  if (!socket_.is_open()) {
    outgoing_.clear();
    return;
  }
  constexpr size_t kSendBatch = 64;
  std::array<mmsghdr, kSendBatch> msgs;
  std::array<iovec, kSendBatch> iov;
  size_t next = 0;
  while (next < outgoing_.size()) {
    const size_t count = std::min(kSendBatch, outgoing_.size() - next);
    for (size_t i = 0; i < count; ++i) {
      Outgoing& out = outgoing_[next + i];
      iov[i] = iovec{out.datagram.data(), out.datagram.size()};
      msgs[i] = mmsghdr{};
      msgs[i].msg_hdr.msg_name = out.to.data();
      msgs[i].msg_hdr.msg_namelen = static_cast<socklen_t>(out.to.size());
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int sent;
    do {
      sent = ::sendmmsg(socket_.native_handle(), msgs.data(),
                        static_cast<unsigned>(count), MSG_DONTWAIT);
    } while (sent < 0 && errno == EINTR);
    if (sent <= 0) {
      // The first datagram was refused (a full buffer, or its destination):
      // it is dropped like any loss on the way, and the rest still go.
      context_.metrics.Drop(DropReason::kSendFailed);
      ++next;
      continue;
    }
    for (int i = 0; i < sent; ++i) {
      context_.metrics.CountPacket(Transport::kUdp, Direction::kOut,
                                   outgoing_[next + i].datagram.size());
    }
    next += static_cast<size_t>(sent);
  }
  outgoing_.clear();
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
    FlushSends();
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
