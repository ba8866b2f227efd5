// The game client's single-session composition: one SessionLifecycle driven by
// the client runtime flow (login, heartbeat, missed pong, reconnect, resume).
#ifndef COMMON_SESSION_MANAGER_H_
#define COMMON_SESSION_MANAGER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/session_lifecycle.h"
#include "common/session_policy.h"
#include "common/session_state.h"
#include "common/session_types.h"

namespace gss {

// What the server's welcome tells the client, as far as the session cares.
struct WelcomeInfo {
  std::string instance_id;  // Which server process answered.
  std::string server_version;
  ResumeToken resume_token;  // An invalid session id means "no token".
};

enum class ClientActionType : uint8_t {
  kOpenTransport,   // Connect a new transport to the server.
  kCloseTransport,  // Close the current (or still opening) transport.
  kSendLogin,       // Log in afresh on the open transport.
  kSendResume,      // Present `token` on the open transport.
  kSendPing,        // Send a heartbeat ping carrying `ping_sent_at`.
  kNotify,          // Tell the application; see `notice`.
};

enum class ClientNotice : uint8_t {
  kNone,
  // Connect() started a new lifecycle in Connecting. It is not a Transition:
  // a lifecycle is born in Connecting, no event leads there.
  kSessionStarted,
  kStateChanged,        // `transition` says how; `detail` may say why.
  kReconnectScheduled,  // Attempt `attempt` opens its transport at `at`.
  kServerRestarted,     // The welcome named a new instance; `detail` is the
                        // previous instance id.
  kGaveUp,              // Every reconnect attempt failed; the session closed.
};

absl::string_view ClientActionTypeName(ClientActionType type);
absl::string_view ClientNoticeName(ClientNotice notice);

// One thing the caller must do. Only the fields named for its type are set.
struct ClientAction {
  ClientActionType type = ClientActionType::kNotify;
  ResumeToken token;                               // kSendResume.
  absl::Time ping_sent_at = absl::InfinitePast();  // kSendPing.
  // kOpenTransport and kReconnectScheduled: the reconnect attempt, counted
  // from 1; 0 for the transport that Connect() opens.
  int attempt = 0;
  ClientNotice notice = ClientNotice::kNone;  // kNotify.
  Transition transition{};                    // kStateChanged.
  absl::Time at = absl::InfinitePast();       // kReconnectScheduled.
  // kStateChanged after OnLoginRejected: the reason; kServerRestarted: the
  // previous instance id.
  std::string detail;

  std::string DebugString() const;
  friend bool operator==(const ClientAction&, const ClientAction&) = default;
};

// A sans-I/O state machine: the caller hands in transport and protocol
// events, calls Advance() at next_wakeup(), and executes what TakeActions()
// returns, in order. Time is read from the clock given at creation whenever
// an input arrives; inputs never run timers, only Advance() does.
//
// Every input returns OK when it was applied, and otherwise FailedPrecondition
// (InvalidArgument for a pong echoing the wrong ping) without changing
// anything or queueing any action.
//
// Not thread-safe: one caller drives it.
class SessionManager {
 public:
  // Fails with InvalidArgument when the policy does not Validate(). The clock
  // must outlive the manager.
  static absl::StatusOr<SessionManager> Create(ClientSessionPolicy policy,
                                               const Clock& clock);

  SessionManager(SessionManager&&) = default;
  SessionManager& operator=(SessionManager&&) = default;

  // Starts a new session from Closed (or before the first Connect): emits
  // kOpenTransport. Connecting and authenticating share one attempt_timeout;
  // missing it closes the session with kTimedOut (nothing to resume yet).
  absl::Status Connect();
  // Orderly close from any live state: closes the transport if there is one
  // and stops every timer. The server ends the session on an orderly close,
  // so the resume token is dropped too.
  absl::Status Disconnect();

  // The transport asked for by the last kOpenTransport is up: emits
  // kSendResume when a resume token is held, kSendLogin otherwise.
  absl::Status OnTransportConnected();
  // The transport broke (or failed to open). A logged-in session starts the
  // reconnect flow at once; during a reconnect attempt it is a failed
  // attempt; before the first login the session closes.
  absl::Status OnTransportLost();
  // The pending login (`resumed` false) or resume (`resumed` true) succeeded.
  absl::Status OnWelcome(const WelcomeInfo& welcome, bool resumed);
  // The pending login was refused: closes with kLoginFailed.
  absl::Status OnLoginRejected(absl::string_view reason);
  // The server does not know the token (typically it restarted): drops the
  // token and logs in afresh on the same transport.
  absl::Status OnResumeRejected();
  // A pong for the ping in flight; records the round-trip time.
  absl::Status OnPong(absl::Time echoed_ping_sent_at);
  // Any other message from the server on the open transport.
  absl::Status OnInboundMessage();

  // Runs every timer that is due at clock.Now().
  void Advance();

  // Drains the queued actions, oldest first.
  std::vector<ClientAction> TakeActions();

  SessionState state() const;
  // kNone before the first Connect() and while the session is live.
  CloseReason close_reason() const;
  // The reconnect attempt under way or last started; 0 when none since the
  // last welcome.
  int reconnect_attempt() const { return reconnect_attempt_; }
  std::optional<absl::Duration> last_rtt() const { return last_rtt_; }
  const std::optional<ResumeToken>& resume_token() const { return token_; }
  // From the last welcome; kept across sessions so a restart is noticed even
  // after Connect() is called again.
  const std::string& instance_id() const { return instance_id_; }
  const std::string& server_version() const { return server_version_; }
  const ClientSessionPolicy& policy() const { return policy_; }
  // The earliest time at which Advance() has work, or InfiniteFuture().
  absl::Time next_wakeup() const;

 private:
  enum class Link : uint8_t { kDown, kOpening, kUp };
  enum class Handshake : uint8_t { kNone, kLogin, kResume };

  SessionManager(ClientSessionPolicy policy, const Clock& clock);

  // Feeds one event to the lifecycle and announces any state change.
  absl::Status Apply(SessionEvent event, absl::string_view detail = {});
  void Emit(ClientAction action);
  void Notify(ClientNotice notice);
  void SendHandshake();
  void StartReconnect(SessionEvent cause, absl::Time now);
  void ScheduleAttempt(absl::Time now);
  void FailAttempt(absl::Time now);
  void CloseTransportIfAny();
  void DisarmTimers();
  // Runs the earliest due timer; false when none is due.
  bool RunDueTimer(absl::Time now);

  ClientSessionPolicy policy_;
  LifecycleRules rules_;
  const Clock* clock_;
  // Empty until the first Connect(): the lifecycle has no "not started"
  // state, and a session that never started is Closed with reason kNone.
  std::optional<SessionLifecycle> lifecycle_;

  Link link_ = Link::kDown;
  Handshake pending_ = Handshake::kNone;
  int reconnect_attempt_ = 0;
  std::optional<ResumeToken> token_;
  std::string instance_id_;
  std::string server_version_;
  std::optional<absl::Duration> last_rtt_;
  absl::Time ping_sent_at_ = absl::InfinitePast();

  // Timers; InfiniteFuture() when disarmed.
  absl::Time attempt_deadline_ = absl::InfiniteFuture();
  absl::Time next_attempt_at_ = absl::InfiniteFuture();
  absl::Time next_ping_at_ = absl::InfiniteFuture();
  absl::Time pong_deadline_ = absl::InfiniteFuture();

  std::vector<ClientAction> actions_;
};

}  // namespace gss

#endif  // COMMON_SESSION_MANAGER_H_
