// The game client runtime: one SessionManager (common/) driven over a real
// transport on its own Asio thread, with events for the application.
#ifndef CLIENTS_RUNTIME_SHARED_NETWORK_RUNTIME_H_
#define CLIENTS_RUNTIME_SHARED_NETWORK_RUNTIME_H_

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>  // Before Boost.Asio (Boost 1.74 with C++20).

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "clients/runtime/client_transport.h"
#include "common/session_manager.h"
#include "common/session_policy.h"
#include "gss/game/v1/game.pb.h"
#include "process/system_clock.h"

namespace gss::client {

enum class RuntimeEventType : uint8_t {
  kSessionStarted,      // Start() began connecting.
  kStateChanged,        // `from` -> `to` on `cause`; `reason` when closed.
  kTransportLost,       // The transport ended; `detail` says how.
  kReconnectScheduled,  // Attempt `attempt` opens its transport at `at`.
  kWelcome,             // `message.welcome()`: logged in or resumed.
  kServerRestarted,     // New `instance_id`; `previous_instance_id`.
  kLoginRejected,       // `message.login_rejected()`; the session closes.
  kResumeRejected,      // `message.resume_rejected()`; a login follows.
  kPong,                // `rtt`; `heartbeat` tells the runtime's own ping.
  kMoveResult,          // `message.move_result()`.
  kShootResult,         // `message.shoot_result()`.
  kHitReceived,         // `message.hit_received()`.
  kInputRejected,       // `message.input_rejected()`.
  kDisconnect,          // `message.disconnect()`: the server's close notice.
  kGaveUp,              // Every reconnect attempt failed; the session closed.
  kStopped,             // Stop() finished; no event follows.
};

absl::string_view RuntimeEventTypeName(RuntimeEventType type);

struct RuntimeEvent {
  RuntimeEventType type = RuntimeEventType::kStateChanged;
  absl::Time at = absl::InfinitePast();  // When the runtime raised it.
  // kStateChanged.
  SessionState from = SessionState::kClosed;
  SessionState to = SessionState::kClosed;
  SessionEvent cause = SessionEvent::kTransportConnected;
  CloseReason reason = CloseReason::kNone;
  // kReconnectScheduled.
  int attempt = 0;
  absl::Time scheduled_at = absl::InfinitePast();
  // kServerRestarted.
  std::string instance_id;
  std::string previous_instance_id;
  // kPong.
  absl::Duration rtt = absl::ZeroDuration();
  bool heartbeat = false;
  // Server messages behind the event, where there is one.
  game::v1::ServerMessage message;
  std::string detail;

  // One line, e.g. "welcome session=... pos=(3,4) resumed=false".
  std::string ToString() const;
};

struct RuntimeOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  TransportKind transport = TransportKind::kTcp;
  // Login credential: a player name with the `dev` authenticator, a JWT
  // with `jwt`.
  std::string credential;
  std::string client_version = "gss-client-runtime/" GSS_VERSION;
  // The seed's numbers by default: ping every 10 s, one missed pong, 5 s
  // between up to 3 reconnect attempts.
  ClientSessionPolicy policy;
  absl::Duration udp_retransmit_interval = absl::Seconds(1);
  // Called on the runtime's thread, in order; must not block for long.
  std::function<void(const RuntimeEvent&)> on_event;
};

// Thread-safe: every public call may come from any thread; the work runs on
// the runtime's own io_context thread.
class SharedNetworkRuntime {
 public:
  SharedNetworkRuntime() = default;
  SharedNetworkRuntime(const SharedNetworkRuntime&) = delete;
  SharedNetworkRuntime& operator=(const SharedNetworkRuntime&) = delete;
  ~SharedNetworkRuntime();  // Stops.

  // Validates the options, starts the thread and connects.
  absl::Status Start(RuntimeOptions options);
  // Inputs go out only while a session is logged in with a transport up;
  // otherwise they are dropped (inputs are best effort, docs/protocol.md).
  // The tick is the server tick estimated from the last welcome.
  void Move(int32_t dx, int32_t dy);
  void Shoot(std::string target_session_id);
  // A user ping; its pong arrives as kPong with heartbeat false.
  void Ping();
  // Says goodbye (ending the session on the server), stops the thread and
  // raises kStopped. Idempotent.
  void Stop();

 private:
  // Everything below runs on the io thread.
  void Emit(RuntimeEvent event);
  void Pump();  // Executes the manager's actions, then rearms the timer.
  void Execute(const ClientAction& action);
  void OpenTransport();
  void CloseTransport(bool orderly);
  void SendMessage(const game::v1::ClientMessage& message);
  void OnMessage(uint64_t generation, const std::string& payload);
  void OnClosed(uint64_t generation, const std::string& why);
  void HandleWelcome(const game::v1::ServerMessage& message);
  void HandlePong(const game::v1::ServerMessage& message);
  void HandleDisconnect(const game::v1::ServerMessage& message);
  void ArmTimer();
  // UDP: the pending Login or Resume is repeated until answered (both are
  // safe to repeat; docs/protocol.md). TCP delivers it or breaks.
  void SendHandshake(const game::v1::ClientMessage& message);
  void StopHandshakeRepeat();
  int64_t EstimatedTick() const;
  bool CanSendInput() const;

  RuntimeOptions options_;
  process::SystemClock clock_;
  std::optional<SessionManager> manager_;
  boost::asio::io_context io_;
  std::optional<
      boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>
      work_;
  std::unique_ptr<boost::asio::steady_timer> timer_;
  std::unique_ptr<boost::asio::steady_timer> repeat_timer_;
  std::string pending_handshake_;  // Serialized; empty when none.
  std::thread thread_;
  std::atomic<bool> stopped_ = false;

  std::shared_ptr<ClientTransport> transport_;
  // Each transport gets a generation; callbacks of an older one are ignored.
  uint64_t generation_ = 0;
  bool transport_up_ = false;
  // From the last welcome: the tick clock for inputs.
  std::optional<game::v1::Welcome> welcome_;
  absl::Time welcome_at_ = absl::InfinitePast();
  int64_t last_input_tick_ = 0;
  // From the last pong, echoed by the next ping for the server's RTT.
  int64_t last_pong_server_time_us_ = 0;
  absl::Time last_pong_at_ = absl::InfinitePast();
};

}  // namespace gss::client

#endif  // CLIENTS_RUNTIME_SHARED_NETWORK_RUNTIME_H_
