#include "gateway/tcp_endpoint.h"

#include <array>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/wire_format.h"
#include "gateway/address.h"
#include "gateway/edge_heartbeat.h"
#include "gateway/rate_limiter.h"

namespace gss::gateway {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// One accepted connection. All state is touched only on the socket's strand.
class TcpPeer : public Peer, public std::enable_shared_from_this<TcpPeer> {
 public:
  TcpPeer(PeerIdentity identity, tcp::socket socket, EndpointContext context,
          const TcpOptions& options)
      : Peer(std::move(identity)),
        context_(context),
        options_(options),
        socket_(std::move(socket)),
        linger_(socket_.get_executor()),
        decoder_(context.limits.max_frame_size),
        bucket_(context.limits.rate, context.limits.burst, Clock::now()) {}

  // Joins the table and tells the service, on the peer's strand like every
  // later event of the peer, so a close can never overtake the connect.
  void Start() {
    asio::post(socket_.get_executor(),
               [self = shared_from_this()] { self->Admit(); });
  }

  void Deliver(std::string message) override {
    asio::post(socket_.get_executor(),
               [self = shared_from_this(), message = std::move(message)] {
                 self->DoDeliver(message);
               });
  }
  void CloseByService(std::string final_message, std::string) override {
    asio::post(
        socket_.get_executor(),
        [self = shared_from_this(), final_message = std::move(final_message)] {
          self->DoCloseByService(final_message);
        });
  }
  void CloseByGateway(wire::DisconnectCode, std::string reason) override {
    asio::post(socket_.get_executor(),
               [self = shared_from_this(), reason = std::move(reason)] {
                 self->Terminate(reason, std::nullopt);
               });
  }

 private:
  enum class State {
    kOpen,      // Reading and writing; in the table.
    kFlushing,  // Closed by the service: writing what is queued.
    kDraining,  // FIN sent; discarding input until the client closes.
    kClosed,
  };

  void Admit() {
    const absl::Status inserted = context_.peers.Insert(shared_from_this());
    if (!inserted.ok()) {
      context_.metrics.Drop(inserted.code() ==
                                    absl::StatusCode::kResourceExhausted
                                ? DropReason::kServerFull
                                : DropReason::kShuttingDown);
      CloseSocket();
      return;
    }
    context_.sink.PeerConnected(identity());
    WaitReadable();
  }

  void WaitReadable() {
    socket_.async_wait(
        tcp::socket::wait_read,
        [self = shared_from_this()](const boost::system::error_code& error) {
          self->OnReadable(error);
        });
  }

  void OnReadable(const boost::system::error_code& error) {
    if (state_ == State::kClosed) return;
    if (error) {
      Terminate("connection_error", std::nullopt);
      return;
    }
    // Readiness, then a non-blocking read into a per-thread buffer: an idle
    // connection holds no read buffer, which matters with many peers.
    thread_local std::array<char, size_t{64} * 1024> buffer;
    for (int i = 0; i < 16; ++i) {
      boost::system::error_code ec;
      const size_t size = socket_.read_some(asio::buffer(buffer), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        break;
      }
      if (ec) {
        Terminate(
            ec == asio::error::eof ? "connection_closed" : "connection_error",
            std::nullopt);
        return;
      }
      if (state_ != State::kOpen) continue;  // Closing: input is discarded.
      context_.metrics.CountBytes(Transport::kTcp, Direction::kIn, size);
      if (!Consume(absl::string_view(buffer.data(), size))) return;
    }
    WaitReadable();
  }

  // Feeds the decoder and forwards whole frames. False when the peer was
  // dropped for breaking a limit.
  bool Consume(absl::string_view bytes) {
    absl::Status status = decoder_.Feed(bytes);
    while (status.ok() && decoder_.Next(frame_)) {
      context_.metrics.CountFrames(Transport::kTcp, Direction::kIn, 1);
      if (!bucket_.TryTake(Clock::now())) {
        context_.metrics.Drop(DropReason::kRateLimited);
        Terminate("rate_limited", PeerDropReason::kRateLimited);
        return false;
      }
      std::optional<EdgePong> answer;
      if (MayBePing(frame_)) {
        answer = AnswerPing(frame_, absl::ToUnixMicros(absl::Now()));
      }
      if (answer && context_.sink.PeerPinged(connection_id(), answer->rtt)) {
        context_.metrics.PingAnswered();
        DoDeliver(answer->pong);
        // The Pong may find the peer's output full (slow_consumer).
        if (state_ != State::kOpen) return false;
      } else {
        context_.sink.PeerMessage(connection_id(), std::move(frame_));
      }
      frame_.clear();
    }
    // A frame after a complete one may have announced an oversized length;
    // an empty Feed reports it without waiting for more bytes.
    if (status.ok()) status = decoder_.Feed(absl::string_view("", 0));
    if (!status.ok()) {
      context_.metrics.Drop(DropReason::kFrameTooLarge);
      Terminate("frame_too_large", PeerDropReason::kFrameTooLarge);
      return false;
    }
    return true;
  }

  void DoDeliver(const std::string& message) {
    if (state_ != State::kOpen) {
      context_.metrics.Drop(DropReason::kPeerClosed);
      return;
    }
    if (pending_.size() + inflight_.size() + wire::kTcpHeaderSize +
            message.size() >
        options_.max_pending_bytes) {
      context_.metrics.Drop(DropReason::kSlowConsumer);
      Terminate("slow_consumer", PeerDropReason::kSlowConsumer);
      return;
    }
    wire::AppendTcpFrame(message, pending_);
    ++pending_frames_;
    if (!writing_) StartWrite();
  }

  void DoCloseByService(const std::string& final_message) {
    if (state_ != State::kOpen) return;
    state_ = State::kFlushing;
    if (context_.peers.Remove(connection_id())) {
      context_.sink.PeerForgotten(connection_id());
    }
    if (!final_message.empty()) {
      wire::AppendTcpFrame(final_message, pending_);
      ++pending_frames_;
    }
    // Bounds how long a client that does not read can hold the socket.
    linger_.expires_after(absl::ToChronoMilliseconds(options_.close_linger));
    linger_.async_wait(
        [self = shared_from_this()](const boost::system::error_code& error) {
          if (!error) self->CloseSocket();
        });
    if (writing_) return;  // OnWrite continues.
    if (!pending_.empty()) {
      StartWrite();
    } else {
      StartDrain();
    }
  }

  void StartWrite() {
    inflight_.swap(pending_);
    pending_.clear();
    inflight_frames_ = pending_frames_;
    pending_frames_ = 0;
    writing_ = true;
    asio::async_write(socket_, asio::buffer(inflight_),
                      [self = shared_from_this()](
                          const boost::system::error_code& error, size_t size) {
                        self->OnWrite(error, size);
                      });
  }

  void OnWrite(const boost::system::error_code& error, size_t size) {
    writing_ = false;
    if (state_ == State::kClosed) return;
    if (error) {
      Terminate("connection_error", std::nullopt);
      return;
    }
    context_.metrics.CountFrames(Transport::kTcp, Direction::kOut,
                                 inflight_frames_);
    context_.metrics.CountBytes(Transport::kTcp, Direction::kOut, size);
    inflight_.clear();
    if (!pending_.empty()) {
      StartWrite();
    } else if (state_ == State::kFlushing) {
      StartDrain();
    }
  }

  // Half-close after the final frame and read until the client closes: an
  // immediate close with unread input would send RST, and the client could
  // lose the final frame.
  void StartDrain() {
    state_ = State::kDraining;
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) CloseSocket();
  }

  // Ends the connection now. The service hears of it (PeerClosed) unless it
  // closed the peer itself.
  void Terminate(const std::string& reason,
                 std::optional<PeerDropReason> dropped) {
    if (state_ == State::kOpen) {
      if (dropped.has_value()) context_.metrics.PeerDropped(*dropped);
      // The service hears first: once the table is empty, Gateway::Stop
      // flushes the link, and this close must already be queued on it.
      if (context_.peers.Find(connection_id()) != nullptr) {
        context_.sink.PeerClosed(connection_id(), /*orderly=*/false, reason);
        context_.peers.Remove(connection_id());
      }
    }
    CloseSocket();
  }

  void CloseSocket() {
    state_ = State::kClosed;
    boost::system::error_code ec;
    linger_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  EndpointContext context_;
  const TcpOptions options_;
  tcp::socket socket_;
  asio::steady_timer linger_;
  wire::TcpFrameDecoder decoder_;
  TokenBucket bucket_;
  State state_ = State::kOpen;
  std::string frame_;
  std::string pending_;   // Frames queued while a write is in flight.
  std::string inflight_;  // The bytes async_write is sending.
  size_t pending_frames_ = 0;
  size_t inflight_frames_ = 0;
  bool writing_ = false;
};

}  // namespace

TcpEndpoint::TcpEndpoint(asio::io_context& io, EndpointContext context,
                         TcpOptions options)
    : io_(io),
      context_(context),
      options_(options),
      strand_(asio::make_strand(io)),
      acceptor_(strand_),
      retry_timer_(strand_) {}

TcpEndpoint::~TcpEndpoint() = default;

absl::Status TcpEndpoint::Open(const tcp::endpoint& local) {
  boost::system::error_code ec;
  if (acceptor_.is_open()) acceptor_.close(ec);
  acceptor_.open(local.protocol(), ec);
  // SO_REUSEADDR on a TCP listener only skips TIME_WAIT; two listeners on
  // one port still conflict on Linux.
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(local, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    return absl::UnavailableError(
        absl::StrCat("cannot listen on TCP ", local.address().to_string(), ":",
                     local.port(), ": ", ec.message()));
  }
  port_ = acceptor_.local_endpoint().port();
  return absl::OkStatus();
}

void TcpEndpoint::Start() {
  asio::post(strand_, [this] { Accept(); });
}

void TcpEndpoint::Close() {
  asio::post(strand_, [this] {
    boost::system::error_code ec;
    retry_timer_.cancel();
    acceptor_.close(ec);
  });
}

void TcpEndpoint::Accept() {
  acceptor_.async_accept(
      asio::make_strand(io_),
      asio::bind_executor(
          strand_,
          [this](const boost::system::error_code& error, tcp::socket socket) {
            OnAccept(error, std::move(socket));
          }));
}

void TcpEndpoint::OnAccept(const boost::system::error_code& error,
                           tcp::socket socket) {
  if (error == asio::error::operation_aborted || !acceptor_.is_open()) return;
  if (error) {
    // E.g. out of file descriptors: pause instead of spinning on the error.
    retry_timer_.expires_after(std::chrono::milliseconds(50));
    retry_timer_.async_wait([this](const boost::system::error_code& e) {
      if (!e && acceptor_.is_open()) Accept();
    });
    return;
  }
  boost::system::error_code ec;
  const tcp::endpoint remote = socket.remote_endpoint(ec);
  if (ec) {  // Already reset by the client.
    Accept();
    return;
  }
  socket.set_option(tcp::no_delay(true), ec);
  socket.non_blocking(true, ec);
  std::make_shared<TcpPeer>(
      PeerIdentity{.connection_id = context_.ids.Next(),
                   .transport = Transport::kTcp,
                   .address = FormatAddress(remote.address(), remote.port())},
      std::move(socket), context_, options_)
      ->Start();
  Accept();
}

}  // namespace gss::gateway
