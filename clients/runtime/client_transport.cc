#include "clients/runtime/client_transport.h"

#include <array>
#include <boost/asio.hpp>
#include <deque>
#include <optional>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "common/udp_client_handshake.h"
#include "common/wire_format.h"

namespace gss::client {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

std::chrono::nanoseconds ToChrono(absl::Duration d) {
  return std::chrono::nanoseconds(absl::ToInt64Nanoseconds(d));
}

// Shared by both kinds: the callbacks, the closed flag that silences them,
// and deferred reporting so that no callback runs inside a caller's call.
class TransportBase : public ClientTransport,
                      public std::enable_shared_from_this<TransportBase> {
 public:
  TransportBase(asio::io_context& io, TransportOptions options,
                TransportCallbacks callbacks)
      : io_(io),
        options_(std::move(options)),
        callbacks_(std::move(callbacks)) {}

 protected:
  void ReportConnected() {
    if (closed_) return;
    asio::post(io_, [self = shared_from_this()] {
      if (!self->closed_ && self->callbacks_.on_connected) {
        self->callbacks_.on_connected();
      }
    });
  }
  void ReportMessage(std::string payload) {
    if (closed_ || !callbacks_.on_message) return;
    callbacks_.on_message(std::move(payload));
  }
  // Ends the transport from inside and reports it once.
  void Fail(std::string why) {
    if (closed_) return;
    closed_ = true;
    CloseSockets();
    if (callbacks_.on_closed) callbacks_.on_closed(std::move(why));
  }
  virtual void CloseSockets() = 0;

  asio::io_context& io_;
  const TransportOptions options_;
  TransportCallbacks callbacks_;
  bool closed_ = false;
};

// --- TCP: length-prefixed frames.
class TcpTransport final : public TransportBase {
 public:
  using TransportBase::TransportBase;

  void Open() override {
    auto self = std::static_pointer_cast<TcpTransport>(shared_from_this());
    auto resolver = std::make_shared<asio::ip::tcp::resolver>(io_);
    resolver->async_resolve(
        options_.host, std::to_string(options_.port),
        [self, resolver](const error_code& ec,
                         const asio::ip::tcp::resolver::results_type& results) {
          if (self->closed_) return;
          if (ec) return self->Fail(absl::StrCat("resolve: ", ec.message()));
          asio::async_connect(
              self->socket_, results,
              [self](const error_code& ec, const asio::ip::tcp::endpoint&) {
                if (self->closed_) return;
                if (ec) {
                  return self->Fail(absl::StrCat("connect: ", ec.message()));
                }
                self->socket_.set_option(asio::ip::tcp::no_delay(true));
                self->connected_ = true;
                self->ReportConnected();
                self->Read();
                self->WriteNext();
              });
        });
  }

  void Send(std::string payload) override {
    if (closed_) return;
    std::string frame;
    wire::AppendTcpFrame(payload, frame);
    out_.push_back(std::move(frame));
    if (connected_ && out_.size() == 1) WriteNext();
  }

  void Close(bool orderly) override {
    if (closed_) return;
    closed_ = true;
    if (orderly && connected_ && !out_.empty()) {
      // The queued frames (the Goodbye) go out first; WriteNext closes.
      close_after_write_ = true;
      return;
    }
    CloseSockets();
  }

 private:
  void CloseSockets() override {
    error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  void Read() {
    auto self = std::static_pointer_cast<TcpTransport>(shared_from_this());
    socket_.async_read_some(
        asio::buffer(read_buffer_), [self](const error_code& ec, size_t n) {
          if (self->closed_) return;
          if (ec) {
            return self->Fail(ec == asio::error::eof
                                  ? std::string("closed by the gateway")
                                  : absl::StrCat("read: ", ec.message()));
          }
          if (absl::Status status = self->decoder_.Feed(
                  absl::string_view(self->read_buffer_.data(), n));
              !status.ok()) {
            return self->Fail(std::string(status.message()));
          }
          std::string payload;
          while (!self->closed_ && self->decoder_.Next(payload)) {
            self->ReportMessage(std::move(payload));
          }
          if (!self->closed_) self->Read();
        });
  }

  void WriteNext() {
    if (out_.empty() || writing_) return;
    writing_ = true;
    auto self = std::static_pointer_cast<TcpTransport>(shared_from_this());
    asio::async_write(
        socket_, asio::buffer(out_.front()),
        [self](const error_code& ec, size_t) {
          self->writing_ = false;
          self->out_.pop_front();
          if (self->close_after_write_) {
            if (ec || self->out_.empty()) {
              self->CloseSockets();
            } else {
              self->WriteNext();
            }
            return;
          }
          if (self->closed_) return;
          if (ec) {
            return self->Fail(absl::StrCat("write: ", ec.message()));
          }
          self->WriteNext();
        });
  }

  asio::ip::tcp::socket socket_{io_};
  wire::TcpFrameDecoder decoder_;
  std::array<char, size_t{16} * 1024> read_buffer_{};
  std::deque<std::string> out_;
  bool connected_ = false;
  bool writing_ = false;
  bool close_after_write_ = false;
};

// --- UDP: challenge handshake, then Data datagrams.
class UdpTransport final : public TransportBase {
 public:
  using TransportBase::TransportBase;

  void Open() override {
    auto self = std::static_pointer_cast<UdpTransport>(shared_from_this());
    auto resolver = std::make_shared<asio::ip::udp::resolver>(io_);
    resolver->async_resolve(
        options_.host, std::to_string(options_.port),
        [self, resolver](const error_code& ec,
                         const asio::ip::udp::resolver::results_type& results) {
          if (self->closed_) return;
          if (ec || results.empty()) {
            return self->Fail(absl::StrCat("resolve: ", ec.message()));
          }
          error_code err;
          const asio::ip::udp::endpoint endpoint = results.begin()->endpoint();
          self->socket_.open(endpoint.protocol(), err);
          // A connected UDP socket receives only the gateway's datagrams and
          // reports an ICMP refusal (gateway gone) as an error.
          if (!err) self->socket_.connect(endpoint, err);
          if (err) return self->Fail(absl::StrCat("socket: ", err.message()));
          self->handshake_.emplace(absl::Uniform<uint64_t>(absl::BitGen()),
                                   self->options_.udp_retransmit_interval);
          self->Receive();
          self->SendHandshake();
        });
  }

  void Send(std::string payload) override {
    if (closed_) return;
    if (connection_id_ == 0) {
      pending_.push_back(std::move(payload));
      return;
    }
    SendDatagram(wire::EncodeData(connection_id_, ++send_sequence_, payload));
  }

  void Close(bool orderly) override {
    if (closed_) return;
    closed_ = true;
    if (orderly && connection_id_ != 0) {
      error_code ignored;
      socket_.send(asio::buffer(wire::EncodeDisconnect(
                       {connection_id_, wire::DisconnectCode::kGoodbye})),
                   0, ignored);
    }
    CloseSockets();
  }

 private:
  void CloseSockets() override {
    error_code ignored;
    retransmit_.cancel();
    socket_.close(ignored);
  }

  void SendDatagram(const std::string& bytes) {
    auto self = std::static_pointer_cast<UdpTransport>(shared_from_this());
    auto buffer = std::make_shared<std::string>(bytes);
    socket_.async_send(asio::buffer(*buffer),
                       [self, buffer](const error_code& ec, size_t) {
                         // Refusals also surface on receive; a lost datagram
                         // is UDP's normal business.
                         if (ec == asio::error::connection_refused) {
                           self->Fail("gateway unreachable");
                         }
                       });
  }

  // Sends the handshake step that is due and arms the timer for the next.
  void SendHandshake() {
    if (closed_ || !handshake_ || handshake_->done()) return;
    if (std::optional<std::string> packet =
            handshake_->DatagramToSend(absl::Now())) {
      SendDatagram(*packet);
    }
    auto self = std::static_pointer_cast<UdpTransport>(shared_from_this());
    retransmit_.expires_after(ToChrono(std::max(
        absl::Milliseconds(1), handshake_->next_send_at() - absl::Now())));
    retransmit_.async_wait([self](const error_code& ec) {
      if (!ec && !self->closed_) self->SendHandshake();
    });
  }

  void Receive() {
    auto self = std::static_pointer_cast<UdpTransport>(shared_from_this());
    socket_.async_receive(
        asio::buffer(read_buffer_), [self](const error_code& ec, size_t n) {
          if (self->closed_) return;
          if (ec == asio::error::connection_refused) {
            return self->Fail("gateway unreachable");
          }
          if (ec) return self->Fail(absl::StrCat("receive: ", ec.message()));
          self->Handle(absl::string_view(self->read_buffer_.data(), n));
          if (!self->closed_) self->Receive();
        });
  }

  void Handle(absl::string_view bytes) {
    absl::StatusOr<wire::Datagram> datagram = wire::ParseDatagram(bytes);
    if (!datagram.ok()) return;  // Dropped, as the gateway does.
    switch (datagram->type) {
      case wire::PacketType::kChallenge:
      case wire::PacketType::kAccepted:
        OnHandshakeAnswer(*datagram);
        break;
      case wire::PacketType::kDisconnect:
        if (connection_id_ == 0) {
          OnHandshakeAnswer(*datagram);  // A refusal (full, shutting down).
        } else if (datagram->disconnect.connection_id == connection_id_) {
          Fail(absl::StrCat("gateway disconnect code ",
                            static_cast<int>(datagram->disconnect.code)));
        }
        break;
      case wire::PacketType::kData:
        if (connection_id_ != 0 &&
            datagram->data.connection_id == connection_id_ &&
            replay_window_.Accept(datagram->data.sequence)) {
          ReportMessage(std::string(datagram->data.payload));
        }
        break;
      default:
        break;
    }
  }

  void OnHandshakeAnswer(const wire::Datagram& datagram) {
    if (!handshake_ || !handshake_->Receive(datagram)) return;
    retransmit_.cancel();
    switch (handshake_->state()) {
      case UdpClientHandshake::State::kResponding:
        SendHandshake();
        break;
      case UdpClientHandshake::State::kAccepted:
        connection_id_ = handshake_->connection_id();
        for (std::string& payload : pending_) Send(std::move(payload));
        pending_.clear();
        ReportConnected();
        break;
      case UdpClientHandshake::State::kRefused:
        Fail(absl::StrCat("gateway refused the connection: code ",
                          static_cast<int>(*handshake_->refusal())));
        break;
      case UdpClientHandshake::State::kRequesting:
        break;
    }
  }

  asio::ip::udp::socket socket_{io_};
  asio::steady_timer retransmit_{io_};
  std::array<char, 2048> read_buffer_{};
  std::optional<UdpClientHandshake> handshake_;  // Made once resolved.
  uint64_t connection_id_ = 0;                   // Set when accepted.
  uint64_t send_sequence_ = 0;
  wire::ReplayWindow replay_window_;
  std::deque<std::string> pending_;  // Sent before Accepted.
};

}  // namespace

std::shared_ptr<ClientTransport> MakeTransport(TransportKind kind,
                                               asio::io_context& io,
                                               const TransportOptions& options,
                                               TransportCallbacks callbacks) {
  if (kind == TransportKind::kTcp) {
    return std::make_shared<TcpTransport>(io, options, std::move(callbacks));
  }
  return std::make_shared<UdpTransport>(io, options, std::move(callbacks));
}

}  // namespace gss::client
