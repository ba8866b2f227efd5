#include "gateway/test_clients.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/udp_client_handshake.h"

namespace gss::gateway::testing {
namespace {

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

uint16_t LocalPort(int fd) {
  sockaddr_in local{};
  socklen_t size = sizeof(local);
  getsockname(fd, reinterpret_cast<sockaddr*>(&local), &size);
  return ntohs(local.sin_port);
}

// True when `fd` is readable before `deadline`.
bool WaitReadable(int fd, absl::Time deadline) {
  for (;;) {
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms < 0) return false;
    pollfd entry{.fd = fd, .events = POLLIN, .revents = 0};
    const int ready = poll(&entry, 1, static_cast<int>(ms));
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) return false;
  }
}

}  // namespace

UdpClient::UdpClient(uint16_t gateway_port) {
  fd_ = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in local = Loopback(0);
  bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local));
  sockaddr_in remote = Loopback(gateway_port);
  connect(fd_, reinterpret_cast<sockaddr*>(&remote), sizeof(remote));
  port_ = LocalPort(fd_);
  buffer_.resize(65536);
}

UdpClient::~UdpClient() {
  if (fd_ >= 0) close(fd_);
}

std::string UdpClient::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

void UdpClient::Send(absl::string_view datagram) {
  send(fd_, datagram.data(), datagram.size(), 0);
}

std::optional<std::string> UdpClient::Receive(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    if (!WaitReadable(fd_, deadline)) return std::nullopt;
    const ssize_t size = recv(fd_, buffer_.data(), buffer_.size(), 0);
    if (size >= 0) return buffer_.substr(0, static_cast<size_t>(size));
    // ECONNREFUSED from an ICMP error: keep waiting.
  }
}

std::optional<wire::Datagram> UdpClient::ReceiveParsed(absl::Duration timeout,
                                                       std::string* raw) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    std::optional<std::string> bytes = Receive(deadline - absl::Now());
    if (!bytes.has_value()) return std::nullopt;
    // Data's payload views the bytes: keep them until the next receive.
    last_raw_ = std::move(*bytes);
    auto parsed = wire::ParseDatagram(last_raw_);
    if (!parsed.ok()) continue;
    if (raw != nullptr) *raw = last_raw_;
    return *parsed;
  }
}

absl::StatusOr<uint64_t> UdpClient::Handshake(uint64_t nonce) {
  UdpClientHandshake handshake(nonce);
  const absl::Time deadline = absl::Now() + kWait;
  while (!handshake.done()) {
    const absl::Time now = absl::Now();
    if (now >= deadline) {
      return absl::DeadlineExceededError(
          handshake.challenge() ? "no answer to the response" : "no challenge");
    }
    if (std::optional<std::string> packet = handshake.DatagramToSend(now)) {
      Send(*packet);
    }
    std::optional<wire::Datagram> reply = ReceiveParsed(
        std::max(absl::ZeroDuration(),
                 std::min(deadline, handshake.next_send_at()) - absl::Now()));
    if (reply.has_value()) handshake.Receive(*reply);
  }
  if (handshake.state() == UdpClientHandshake::State::kRefused) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "refused with code ", static_cast<int>(*handshake.refusal())));
  }
  last_challenge_ = *handshake.challenge();
  connection_id_ = handshake.connection_id();
  return connection_id_;
}

void UdpClient::SendData(absl::string_view payload) {
  SendDataWithSequence(next_sequence_, payload);
}

void UdpClient::SendDataWithSequence(uint64_t sequence,
                                     absl::string_view payload) {
  if (sequence >= next_sequence_) next_sequence_ = sequence + 1;
  Send(wire::EncodeData(connection_id_, sequence, payload));
}

TcpClient::TcpClient(uint16_t gateway_port) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in remote = Loopback(gateway_port);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&remote), sizeof(remote)) != 0) {
    close(fd_);
    fd_ = -1;
    return;
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  port_ = LocalPort(fd_);
}

TcpClient::~TcpClient() { Close(); }

void TcpClient::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

std::string TcpClient::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

void TcpClient::SendRaw(absl::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t sent = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent <= 0) return;
    bytes.remove_prefix(static_cast<size_t>(sent));
  }
}

void TcpClient::SendFrame(absl::string_view payload) {
  std::string frame;
  wire::AppendTcpFrame(payload, frame);
  SendRaw(frame);
}

bool TcpClient::Fill(absl::Time deadline) {
  if (ended_ || !WaitReadable(fd_, deadline)) return false;
  char chunk[65536];
  const ssize_t size = recv(fd_, chunk, sizeof(chunk), 0);
  if (size <= 0) {
    ended_ = true;
    return false;
  }
  buffer_.append(chunk, static_cast<size_t>(size));
  return true;
}

std::optional<std::string> TcpClient::ReadFrame(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    if (buffer_.size() >= 4) {
      const uint32_t length = uint32_t{static_cast<uint8_t>(buffer_[0])} << 24 |
                              uint32_t{static_cast<uint8_t>(buffer_[1])} << 16 |
                              uint32_t{static_cast<uint8_t>(buffer_[2])} << 8 |
                              uint32_t{static_cast<uint8_t>(buffer_[3])};
      if (buffer_.size() >= 4 + length) {
        std::string payload = buffer_.substr(4, length);
        buffer_.erase(0, 4 + length);
        return payload;
      }
    }
    if (!Fill(deadline)) return std::nullopt;
  }
}

bool TcpClient::WaitClosed(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!ended_) {
    if (!Fill(deadline) && !ended_) return false;
  }
  return true;
}

}  // namespace gss::gateway::testing
