// Minimal blocking game clients for gateway tests: a UDP client speaking the
// handshake and Data, and a TCP client speaking length-prefixed frames. Every
// wait has a deadline; nothing sleeps.
#ifndef GATEWAY_TEST_CLIENTS_H_
#define GATEWAY_TEST_CLIENTS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/wire_format.h"

namespace gss::gateway::testing {

inline constexpr absl::Duration kWait = absl::Seconds(10);

class UdpClient {
 public:
  // Bound to 127.0.0.1:0 and connected to 127.0.0.1:`gateway_port`.
  explicit UdpClient(uint16_t gateway_port);
  ~UdpClient();
  UdpClient(const UdpClient&) = delete;
  UdpClient& operator=(const UdpClient&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const;  // "127.0.0.1:port", as the gateway prints it.

  void Send(absl::string_view datagram);
  // The next datagram, raw; nullopt after `timeout`.
  std::optional<std::string> Receive(absl::Duration timeout = kWait);
  // The next datagram that parses; nullopt after `timeout`. A Data payload
  // stays valid until the next receive.
  std::optional<wire::Datagram> ReceiveParsed(absl::Duration timeout = kWait,
                                              std::string* raw = nullptr);

  // ConnectRequest, Challenge, ChallengeResponse, Accepted: the connection id.
  absl::StatusOr<uint64_t> Handshake(uint64_t nonce);
  // Sends Data with the next sequence number (or the one given).
  void SendData(absl::string_view payload);
  void SendDataWithSequence(uint64_t sequence, absl::string_view payload);

  uint64_t connection_id() const { return connection_id_; }
  uint64_t next_sequence() const { return next_sequence_; }
  // The last Challenge received (for replaying it elsewhere).
  const wire::Challenge& last_challenge() const { return last_challenge_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  uint64_t connection_id_ = 0;
  uint64_t next_sequence_ = 1;
  wire::Challenge last_challenge_;
  std::string buffer_;
  std::string last_raw_;
};

class TcpClient {
 public:
  explicit TcpClient(uint16_t gateway_port);
  ~TcpClient();
  TcpClient(const TcpClient&) = delete;
  TcpClient& operator=(const TcpClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  uint16_t port() const { return port_; }
  std::string address() const;

  void SendRaw(absl::string_view bytes);
  void SendFrame(absl::string_view payload);
  // The next whole frame; nullopt on timeout or when the stream ended.
  std::optional<std::string> ReadFrame(absl::Duration timeout = kWait);
  // True once the gateway closed the connection (EOF or reset), discarding
  // any frames before it.
  bool WaitClosed(absl::Duration timeout = kWait);
  void Close();

 private:
  // Reads what is there within `deadline`; false on EOF/error/timeout.
  bool Fill(absl::Time deadline);

  int fd_ = -1;
  uint16_t port_ = 0;
  bool ended_ = false;
  std::string buffer_;
};

}  // namespace gss::gateway::testing

#endif  // GATEWAY_TEST_CLIENTS_H_
