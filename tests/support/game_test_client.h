// A blocking game client for end-to-end tests: TCP frames or UDP datagrams
// (with the challenge handshake), typed helpers, and raw sends for abuse.
#ifndef TESTS_SUPPORT_GAME_TEST_CLIENT_H_
#define TESTS_SUPPORT_GAME_TEST_CLIENT_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/wire_format.h"
#include "gss/game/v1/game.pb.h"

namespace gss::testing {

enum class Transport { kTcp, kUdp };
// "Tcp" / "Udp": usable in parameterised test names.
std::string TransportName(Transport transport);

// A one-line summary of a server message for failure output.
std::string Describe(const game::v1::ServerMessage& message);

class GameTestClient {
 public:
  using ServerMessage = game::v1::ServerMessage;
  using ClientMessage = game::v1::ClientMessage;

  struct Options {
    absl::Duration connect_timeout = absl::Seconds(5);
    // UDP only: run the challenge handshake in Connect(). Without it the
    // client is a bare socket aimed at the gateway (for stranger traffic).
    bool udp_handshake = true;
    // TCP only: the receive decoder's limit; generous so that the test sees
    // whatever the server sends.
    uint32_t max_frame_size = 1 << 20;
    // Pad Login as the project's clients do (gss/game/v1/login_padding.h).
    bool pad_login = true;
  };

  // Connects to the gateway's game port on 127.0.0.1.
  static absl::StatusOr<std::unique_ptr<GameTestClient>> Connect(
      Transport transport, int port);
  static absl::StatusOr<std::unique_ptr<GameTestClient>> Connect(
      Transport transport, int port, const Options& options);

  GameTestClient(const GameTestClient&) = delete;
  GameTestClient& operator=(const GameTestClient&) = delete;
  ~GameTestClient();

  Transport transport() const { return transport_; }
  int fd() const { return fd_; }
  // UDP: the connection id from Accepted (0 before the handshake).
  uint64_t connection_id() const { return connection_id_; }
  // The local port of the socket (the gateway sees 127.0.0.1:<port>).
  int local_port() const;

  // --- sending ---------------------------------------------------------------
  absl::Status Send(const ClientMessage& message);
  // One game payload: a frame (TCP) or a Data datagram with the next
  // sequence number (UDP). The bytes need not parse as a ClientMessage.
  absl::Status SendPayload(absl::string_view payload);
  // UDP: a Data datagram with an explicit sequence (replays).
  absl::Status SendDataWithSequence(uint64_t sequence,
                                    absl::string_view payload);
  // Raw bytes: written to the TCP stream as they are, or sent as one
  // datagram.
  absl::Status SendRaw(absl::string_view bytes);
  // UDP: a Disconnect packet with `code`.
  absl::Status SendUdpDisconnect(wire::DisconnectCode code);
  uint64_t next_send_sequence() const { return send_sequence_ + 1; }
  uint64_t last_sent_sequence() const { return send_sequence_; }

  // --- receiving -------------------------------------------------------------
  // The next server message (from the inbox first). DeadlineExceeded on
  // timeout; Unavailable once the transport is closed and nothing is left.
  absl::StatusOr<ServerMessage> Receive(absl::Duration timeout);
  // The first message satisfying `match`; others received meanwhile stay in
  // the inbox in order.
  absl::StatusOr<ServerMessage> ReceiveMatching(
      const std::function<bool(const ServerMessage&)>& match,
      absl::Duration timeout);
  absl::StatusOr<ServerMessage> ReceiveBody(ServerMessage::BodyCase body,
                                            absl::Duration timeout);
  // Reads whatever arrives within `duration` into the inbox (for checks
  // that something did NOT arrive) and returns the inbox.
  const std::deque<ServerMessage>& CollectFor(absl::Duration duration);
  const std::deque<ServerMessage>& inbox() const { return inbox_; }
  // UDP: every datagram received so far, of any type, valid or not.
  uint64_t datagrams_received() const { return datagrams_received_; }
  // True if the inbox holds a message with `body`.
  bool InboxHas(ServerMessage::BodyCase body) const;
  void ClearInbox() { inbox_.clear(); }

  // UDP: the next datagram exactly as received, bypassing the client's own
  // handling (for handshake tests on a client made without handshake).
  absl::StatusOr<std::string> ReceiveRawDatagram(absl::Duration timeout);

  // Waits until the server side closes the transport (TCP EOF or reset; UDP
  // Disconnect packet). Messages received meanwhile go to the inbox.
  absl::Status WaitForTransportClose(absl::Duration timeout);
  bool transport_closed() const { return transport_closed_; }
  // UDP: the code of the Disconnect packet the gateway sent, if any.
  std::optional<wire::DisconnectCode> udp_disconnect_code() const {
    return udp_disconnect_code_;
  }

  // --- game helpers (each waits for its answer)
  // ------------------------------- Sends Login and returns the reply: a
  // Welcome, LoginRejected or Disconnect. On UDP the Login is repeated every
  // second until answered.
  absl::StatusOr<ServerMessage> LoginReply(
      const std::string& credential, absl::Duration timeout = absl::Seconds(5));
  // A Welcome, or FailedPrecondition naming the rejection.
  absl::StatusOr<game::v1::Welcome> Login(
      const std::string& credential, absl::Duration timeout = absl::Seconds(5));
  // Sends Resume; returns a Welcome or ResumeRejected (or Disconnect).
  absl::StatusOr<ServerMessage> Resume(
      const std::string& resume_token,
      absl::Duration timeout = absl::Seconds(5));
  absl::StatusOr<game::v1::Pong> Ping(
      absl::Duration timeout = absl::Seconds(5));
  absl::StatusOr<game::v1::MoveResult> Move(
      int64_t tick, int32_t dx, int32_t dy,
      absl::Duration timeout = absl::Seconds(5));
  absl::StatusOr<game::v1::ShootResult> Shoot(
      int64_t tick, const std::string& target_session_id,
      absl::Duration timeout = absl::Seconds(5));
  // Orderly close: Goodbye, then (TCP) FIN and wait for the server's close,
  // or (UDP) a Disconnect packet with code 0.
  absl::Status Goodbye(absl::Duration timeout = absl::Seconds(5));

  // Unclean closes. TCP: a reset (SO_LINGER 0); UDP: the socket is closed
  // without a word.
  void CloseAbruptly();
  // TCP: FIN without a Goodbye; UDP: as CloseAbruptly.
  void CloseWithoutGoodbye();

  // The last Welcome seen by Login/Resume (empty before).
  const game::v1::Welcome& welcome() const { return welcome_; }
  // The server tick now, estimated from the last Welcome's server_tick and
  // the time since it arrived; never ahead of the server's true tick by more
  // than clock granularity.
  int64_t EstimatedServerTick() const;

 private:
  GameTestClient(Transport transport, int fd, const Options& options);
  absl::Status UdpHandshake(absl::Duration timeout);
  absl::Status SendAll(absl::string_view bytes);
  // Reads from the socket until at least one message is in the inbox, the
  // transport closes, or the deadline passes.
  absl::Status ReadSome(absl::Time deadline);
  absl::Status HandleDatagram(absl::string_view bytes);
  absl::StatusOr<ServerMessage> AwaitReply(
      const ClientMessage& request,
      const std::function<bool(const ServerMessage&)>& match,
      absl::Duration timeout, bool repeat_on_udp);
  void NoteWelcome(const game::v1::Welcome& welcome);

  const Transport transport_;
  int fd_ = -1;
  Options options_;
  wire::TcpFrameDecoder decoder_;
  std::deque<ServerMessage> inbox_;
  bool transport_closed_ = false;
  std::string close_detail_;
  std::optional<wire::DisconnectCode> udp_disconnect_code_;
  uint64_t connection_id_ = 0;
  uint64_t send_sequence_ = 0;
  uint64_t datagrams_received_ = 0;
  wire::ReplayWindow replay_window_;
  game::v1::Welcome welcome_;
  absl::Time welcome_at_ = absl::InfinitePast();
};

}  // namespace gss::testing

#endif  // TESTS_SUPPORT_GAME_TEST_CLIENT_H_
