// A blocking game client for end-to-end tests over TCP frames or UDP
// datagrams, built on the shared framing codec in common/wire_format.h.
#include "tests/support/game_test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "common/udp_client_handshake.h"
#include "gss/game/v1/login_padding.h"

namespace gss::testing {
namespace {

using game::v1::ClientMessage;
using game::v1::ServerMessage;

absl::Status ErrnoStatus(absl::string_view what) {
  const int error = errno;
  std::string message = absl::StrCat(what, ": ", std::strerror(error));
  if (error == ECONNREFUSED || error == ECONNRESET || error == EPIPE) {
    return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

int RemainingMs(absl::Time deadline) {
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(
      std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1 << 30));
}

}  // namespace

std::string TransportName(Transport transport) {
  return transport == Transport::kTcp ? "Tcp" : "Udp";
}

std::string Describe(const ServerMessage& message) {
  std::string text = message.ShortDebugString();
  if (text.empty()) text = "<empty ServerMessage>";
  return text;
}

GameTestClient::GameTestClient(Transport transport, int fd,
                               const Options& options)
    : transport_(transport),
      fd_(fd),
      options_(options),
      decoder_(options.max_frame_size) {}

GameTestClient::~GameTestClient() {
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<std::unique_ptr<GameTestClient>> GameTestClient::Connect(
    Transport transport, int port) {
  return Connect(transport, port, Options());
}

absl::StatusOr<std::unique_ptr<GameTestClient>> GameTestClient::Connect(
    Transport transport, int port, const Options& options) {
  const int type = transport == Transport::kTcp ? SOCK_STREAM : SOCK_DGRAM;
  const int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("socket");
  auto client = std::unique_ptr<GameTestClient>(
      new GameTestClient(transport, fd, options));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (transport == Transport::kTcp) {
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address),
              sizeof(address)) != 0) {
    return ErrnoStatus(absl::StrCat("connect to 127.0.0.1:", port));
  }
  if (transport == Transport::kUdp && options.udp_handshake) {
    absl::Status handshake = client->UdpHandshake(options.connect_timeout);
    if (!handshake.ok()) return handshake;
  }
  return client;
}

int GameTestClient::local_port() const {
  sockaddr_in address{};
  socklen_t length = sizeof(address);
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return 0;
  }
  return ntohs(address.sin_port);
}

absl::Status GameTestClient::UdpHandshake(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::BitGen random;
  UdpClientHandshake handshake(absl::Uniform<uint64_t>(random));
  while (!handshake.done()) {
    const absl::Time now = absl::Now();
    if (now >= deadline) {
      return absl::DeadlineExceededError(handshake.challenge()
                                             ? "UDP handshake: no Accepted"
                                             : "UDP handshake: no Challenge");
    }
    if (std::optional<std::string> packet = handshake.DatagramToSend(now)) {
      if (send(fd_, packet->data(), packet->size(), 0) < 0 &&
          errno != ECONNREFUSED) {
        return ErrnoStatus("send handshake");
      }
    }
    pollfd pfd{fd_, POLLIN, 0};
    const int ready = poll(
        &pfd, 1, RemainingMs(std::min(deadline, handshake.next_send_at())));
    if (ready < 0 && errno != EINTR) return ErrnoStatus("poll");
    if (ready <= 0) continue;
    std::array<char, 2048> buffer;
    const ssize_t n = recv(fd_, buffer.data(), buffer.size(), 0);
    if (n < 0) {
      if (errno == ECONNREFUSED || errno == EINTR || errno == EAGAIN) continue;
      return ErrnoStatus("recv handshake");
    }
    ++datagrams_received_;
    auto datagram =
        wire::ParseDatagram(absl::string_view(buffer.data(), size_t(n)));
    if (datagram.ok()) handshake.Receive(*datagram);
  }
  if (handshake.state() == UdpClientHandshake::State::kRefused) {
    transport_closed_ = true;
    udp_disconnect_code_ = handshake.refusal();
    return absl::UnavailableError(
        absl::StrCat("UDP handshake: gateway sent Disconnect code ",
                     static_cast<int>(*handshake.refusal())));
  }
  connection_id_ = handshake.connection_id();
  return absl::OkStatus();
}

absl::Status GameTestClient::SendAll(absl::string_view bytes) {
  if (fd_ < 0) return absl::FailedPreconditionError("socket closed");
  size_t offset = 0;
  while (offset < bytes.size()) {
    const ssize_t n =
        send(fd_, bytes.data() + offset, bytes.size() - offset, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("send");
    }
    if (transport_ == Transport::kUdp) return absl::OkStatus();
    offset += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status GameTestClient::Send(const ClientMessage& message) {
  return SendPayload(message.SerializeAsString());
}

absl::Status GameTestClient::SendPayload(absl::string_view payload) {
  if (transport_ == Transport::kTcp) {
    std::string frame;
    wire::AppendTcpFrame(payload, frame);
    return SendAll(frame);
  }
  return SendDataWithSequence(++send_sequence_, payload);
}

absl::Status GameTestClient::SendDataWithSequence(uint64_t sequence,
                                                  absl::string_view payload) {
  if (transport_ != Transport::kUdp) {
    return absl::FailedPreconditionError("Data datagrams are UDP only");
  }
  send_sequence_ = std::max(send_sequence_, sequence);
  return SendAll(wire::EncodeData(connection_id_, sequence, payload));
}

absl::Status GameTestClient::SendRaw(absl::string_view bytes) {
  return SendAll(bytes);
}

absl::Status GameTestClient::SendUdpDisconnect(wire::DisconnectCode code) {
  if (transport_ != Transport::kUdp) {
    return absl::FailedPreconditionError("Disconnect packets are UDP only");
  }
  return SendAll(
      wire::EncodeDisconnect({.connection_id = connection_id_, .code = code}));
}

absl::Status GameTestClient::HandleDatagram(absl::string_view bytes) {
  ++datagrams_received_;
  auto datagram = wire::ParseDatagram(bytes);
  if (!datagram.ok()) {
    return absl::DataLossError(absl::StrCat(
        "gateway sent a malformed datagram: ", datagram.status().message()));
  }
  switch (datagram->type) {
    case wire::PacketType::kData: {
      if (datagram->data.connection_id != connection_id_) {
        return absl::DataLossError(absl::StrCat("Data for connection ",
                                                datagram->data.connection_id,
                                                ", expected ", connection_id_));
      }
      if (!replay_window_.Accept(datagram->data.sequence)) {
        return absl::OkStatus();  // A duplicate: dropped, as a client must.
      }
      ServerMessage message;
      if (!message.ParseFromArray(datagram->data.payload.data(),
                                  datagram->data.payload.size())) {
        return absl::DataLossError("unparsable ServerMessage in Data");
      }
      inbox_.push_back(std::move(message));
      return absl::OkStatus();
    }
    case wire::PacketType::kDisconnect:
      transport_closed_ = true;
      udp_disconnect_code_ = datagram->disconnect.code;
      close_detail_ = absl::StrCat("UDP Disconnect code ",
                                   static_cast<int>(datagram->disconnect.code));
      return absl::OkStatus();
    default:
      // A repeated Challenge or Accepted: harmless.
      return absl::OkStatus();
  }
}

absl::Status GameTestClient::ReadSome(absl::Time deadline) {
  const size_t inbox_before = inbox_.size();
  while (inbox_.size() == inbox_before && !transport_closed_) {
    if (fd_ < 0) {
      transport_closed_ = true;
      close_detail_ = "closed locally";
      break;
    }
    pollfd pfd{fd_, POLLIN, 0};
    const int ready = poll(&pfd, 1, RemainingMs(deadline));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("poll");
    }
    if (ready == 0) return absl::DeadlineExceededError("no message in time");
    std::array<char, 65536> buffer;
    const ssize_t n = recv(fd_, buffer.data(), buffer.size(), 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      if (transport_ == Transport::kUdp && errno == ECONNREFUSED) {
        continue;  // An ICMP error for an earlier datagram.
      }
      if (errno == ECONNRESET) {
        transport_closed_ = true;
        close_detail_ = "connection reset by the gateway";
        break;
      }
      return ErrnoStatus("recv");
    }
    if (transport_ == Transport::kUdp) {
      absl::Status handled =
          HandleDatagram(absl::string_view(buffer.data(), size_t(n)));
      if (!handled.ok()) return handled;
      continue;
    }
    if (n == 0) {
      transport_closed_ = true;
      close_detail_ = "EOF from the gateway";
      break;
    }
    absl::Status fed =
        decoder_.Feed(absl::string_view(buffer.data(), size_t(n)));
    if (!fed.ok()) return fed;
    std::string payload;
    while (decoder_.Next(payload)) {
      ServerMessage message;
      if (!message.ParseFromString(payload)) {
        return absl::DataLossError("unparsable ServerMessage frame");
      }
      inbox_.push_back(std::move(message));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ServerMessage> GameTestClient::Receive(absl::Duration timeout) {
  return ReceiveMatching([](const ServerMessage&) { return true; }, timeout);
}

absl::StatusOr<ServerMessage> GameTestClient::ReceiveMatching(
    const std::function<bool(const ServerMessage&)>& match,
    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  size_t scanned = 0;
  while (true) {
    for (; scanned < inbox_.size(); ++scanned) {
      if (match(inbox_[scanned])) {
        ServerMessage message = std::move(inbox_[scanned]);
        inbox_.erase(inbox_.begin() + static_cast<ptrdiff_t>(scanned));
        return message;
      }
    }
    if (transport_closed_) {
      return absl::UnavailableError(
          absl::StrCat("transport closed (", close_detail_, ")"));
    }
    absl::Status read = ReadSome(deadline);
    if (!read.ok()) return read;
  }
}

absl::StatusOr<ServerMessage> GameTestClient::ReceiveBody(
    ServerMessage::BodyCase body, absl::Duration timeout) {
  return ReceiveMatching(
      [body](const ServerMessage& m) { return m.body_case() == body; },
      timeout);
}

const std::deque<ServerMessage>& GameTestClient::CollectFor(
    absl::Duration duration) {
  const absl::Time deadline = absl::Now() + duration;
  while (!transport_closed_ && absl::Now() < deadline) {
    if (!ReadSome(deadline).ok()) break;
  }
  return inbox_;
}

bool GameTestClient::InboxHas(ServerMessage::BodyCase body) const {
  return std::any_of(
      inbox_.begin(), inbox_.end(),
      [body](const ServerMessage& m) { return m.body_case() == body; });
}

absl::StatusOr<std::string> GameTestClient::ReceiveRawDatagram(
    absl::Duration timeout) {
  if (transport_ != Transport::kUdp) {
    return absl::FailedPreconditionError("datagrams are UDP only");
  }
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    pollfd pfd{fd_, POLLIN, 0};
    const int ready = poll(&pfd, 1, RemainingMs(deadline));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("poll");
    }
    if (ready == 0) return absl::DeadlineExceededError("no datagram in time");
    std::array<char, 65536> buffer;
    const ssize_t n = recv(fd_, buffer.data(), buffer.size(), 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == ECONNREFUSED) continue;
      return ErrnoStatus("recv");
    }
    ++datagrams_received_;
    return std::string(buffer.data(), size_t(n));
  }
}

absl::Status GameTestClient::WaitForTransportClose(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!transport_closed_) {
    absl::Status read = ReadSome(deadline);
    if (absl::IsDeadlineExceeded(read)) {
      return absl::DeadlineExceededError(
          "the server did not close the transport in time");
    }
    if (!read.ok()) return read;
  }
  return absl::OkStatus();
}

absl::StatusOr<ServerMessage> GameTestClient::AwaitReply(
    const ClientMessage& request,
    const std::function<bool(const ServerMessage&)>& match,
    absl::Duration timeout, bool repeat_on_udp) {
  const absl::Time deadline = absl::Now() + timeout;
  const bool repeat = repeat_on_udp && transport_ == Transport::kUdp;
  while (true) {
    absl::Status sent = Send(request);
    if (!sent.ok()) return sent;
    const absl::Time wait_until =
        repeat ? std::min(deadline, absl::Now() + absl::Seconds(1)) : deadline;
    absl::StatusOr<ServerMessage> reply =
        ReceiveMatching(match, wait_until - absl::Now());
    if (reply.ok() || !absl::IsDeadlineExceeded(reply.status()) ||
        absl::Now() >= deadline) {
      return reply;
    }
  }
}

void GameTestClient::NoteWelcome(const game::v1::Welcome& welcome) {
  welcome_ = welcome;
  welcome_at_ = absl::Now();
}

int64_t GameTestClient::EstimatedServerTick() const {
  const int tick_ms = welcome_.world_config().movement_tick_ms();
  if (tick_ms <= 0) return welcome_.server_tick();
  return welcome_.server_tick() +
         absl::ToInt64Milliseconds(absl::Now() - welcome_at_) / tick_ms;
}

absl::StatusOr<ServerMessage> GameTestClient::LoginReply(
    const std::string& credential, absl::Duration timeout) {
  ClientMessage request;
  request.mutable_login()->set_credential(credential);
  request.mutable_login()->set_client_version("gss-e2e-test");
  if (options_.pad_login) game::v1::PadLogin(request);
  auto reply = AwaitReply(
      request,
      [](const ServerMessage& m) {
        return m.has_welcome() || m.has_login_rejected() || m.has_disconnect();
      },
      timeout, /*repeat_on_udp=*/true);
  if (reply.ok() && reply->has_welcome()) NoteWelcome(reply->welcome());
  return reply;
}

absl::StatusOr<game::v1::Welcome> GameTestClient::Login(
    const std::string& credential, absl::Duration timeout) {
  auto reply = LoginReply(credential, timeout);
  if (!reply.ok()) return reply.status();
  if (!reply->has_welcome()) {
    return absl::FailedPreconditionError(
        absl::StrCat("login refused: ", Describe(*reply)));
  }
  return reply->welcome();
}

absl::StatusOr<ServerMessage> GameTestClient::Resume(
    const std::string& resume_token, absl::Duration timeout) {
  ClientMessage request;
  request.mutable_resume()->set_resume_token(resume_token);
  auto reply = AwaitReply(
      request,
      [](const ServerMessage& m) {
        return m.has_welcome() || m.has_resume_rejected() || m.has_disconnect();
      },
      timeout, /*repeat_on_udp=*/true);
  if (reply.ok() && reply->has_welcome()) NoteWelcome(reply->welcome());
  return reply;
}

absl::StatusOr<game::v1::Pong> GameTestClient::Ping(absl::Duration timeout) {
  ClientMessage request;
  const int64_t stamp = absl::ToUnixMicros(absl::Now());
  request.mutable_ping()->set_client_time_us(stamp);
  auto reply = AwaitReply(
      request,
      [stamp](const ServerMessage& m) {
        return (m.has_pong() && m.pong().client_time_us() == stamp) ||
               m.has_input_rejected() || m.has_disconnect();
      },
      timeout, /*repeat_on_udp=*/false);
  if (!reply.ok()) return reply.status();
  if (!reply->has_pong()) {
    return absl::FailedPreconditionError(
        absl::StrCat("ping answered by ", Describe(*reply)));
  }
  return reply->pong();
}

absl::StatusOr<game::v1::MoveResult> GameTestClient::Move(
    int64_t tick, int32_t dx, int32_t dy, absl::Duration timeout) {
  ClientMessage request;
  request.mutable_move()->set_tick(tick);
  request.mutable_move()->set_dx(dx);
  request.mutable_move()->set_dy(dy);
  auto reply = AwaitReply(
      request,
      [tick](const ServerMessage& m) {
        return (m.has_move_result() && m.move_result().tick() == tick) ||
               m.has_input_rejected() || m.has_disconnect();
      },
      timeout, /*repeat_on_udp=*/false);
  if (!reply.ok()) return reply.status();
  if (!reply->has_move_result()) {
    return absl::FailedPreconditionError(
        absl::StrCat("move answered by ", Describe(*reply)));
  }
  return reply->move_result();
}

absl::StatusOr<game::v1::ShootResult> GameTestClient::Shoot(
    int64_t tick, const std::string& target_session_id,
    absl::Duration timeout) {
  ClientMessage request;
  request.mutable_shoot()->set_tick(tick);
  request.mutable_shoot()->set_target_session_id(target_session_id);
  auto reply = AwaitReply(
      request,
      [tick](const ServerMessage& m) {
        return (m.has_shoot_result() && m.shoot_result().tick() == tick) ||
               m.has_input_rejected() || m.has_disconnect();
      },
      timeout, /*repeat_on_udp=*/false);
  if (!reply.ok()) return reply.status();
  if (!reply->has_shoot_result()) {
    return absl::FailedPreconditionError(
        absl::StrCat("shot answered by ", Describe(*reply)));
  }
  return reply->shoot_result();
}

absl::Status GameTestClient::Goodbye(absl::Duration timeout) {
  ClientMessage request;
  request.mutable_goodbye();
  absl::Status sent = Send(request);
  if (!sent.ok()) return sent;
  if (transport_ == Transport::kUdp) {
    return SendUdpDisconnect(wire::DisconnectCode::kGoodbye);
  }
  // FIN after the Goodbye, then read until the gateway closes its side, so
  // that no unread data turns our close into a reset.
  shutdown(fd_, SHUT_WR);
  return WaitForTransportClose(timeout);
}

void GameTestClient::CloseAbruptly() {
  if (fd_ < 0) return;
  if (transport_ == Transport::kTcp) {
    linger reset{.l_onoff = 1, .l_linger = 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  }
  close(fd_);
  fd_ = -1;
  transport_closed_ = true;
  close_detail_ = "closed locally";
}

void GameTestClient::CloseWithoutGoodbye() {
  if (fd_ < 0) return;
  if (transport_ == Transport::kTcp) shutdown(fd_, SHUT_WR);
  close(fd_);
  fd_ = -1;
  transport_closed_ = true;
  close_detail_ = "closed locally";
}

}  // namespace gss::testing
