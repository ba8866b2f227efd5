// The session lifecycle vocabulary shared by clients and servers: states,
// the events that move a session between them, and why a session closed.
#ifndef COMMON_SESSION_STATE_H_
#define COMMON_SESSION_STATE_H_

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"

namespace gss {

enum class SessionState : uint8_t {
  kConnecting,      // The transport is being set up.
  kAuthenticating,  // The transport is up; no login or resume has completed.
  kActive,          // Logged in and live.
  kSuspect,         // Logged in, but liveness is overdue.
  kReconnecting,    // The transport is gone; the session is held for resume.
  kClosed,          // Terminal. Always carries a CloseReason.
};
inline constexpr int kSessionStateCount = 6;

enum class CloseReason : uint8_t {
  kNone,             // Not closed.
  kTransportClosed,  // The transport closed in an orderly way, or before login.
  kLoginFailed,      // Credentials were refused.
  kTimedOut,         // A deadline passed with no way to hold the session.
  kGraceExpired,     // The reconnect grace window ended without a resume.
  kEvicted,          // An operator or the host removed the session.
  kServerShutdown,   // The server runtime stopped.
  kReplaced,         // A newer login of the same player took over.
  kResumeFailed,     // Resume attempts were used up.
  kResumed,          // This connection resumed an earlier session, which now
                     // owns it; the connection's own provisional session ends.
};
inline constexpr int kCloseReasonCount = 10;

enum class SessionEvent : uint8_t {
  kTransportConnected,
  kTransportClosed,  // Orderly close: the peer said goodbye.
  kTransportLost,    // The transport broke (reset, keepalive, dead link).
  kLoginSucceeded,
  kLoginFailed,
  kHeartbeat,
  kInboundMessage,  // Any message from the peer; counts as liveness.
  kResumeSucceeded,
  kResumeFailed,
  kEvict,
  kReplace,
  kShutdown,
  kAbsorbedByResume,  // The connection was handed to a resumed session.
  // The passage of time, as judged by the composition's policy:
  kLivenessOverdue,  // Active too long without inbound traffic.
  kLivenessLost,     // Silent for the whole liveness timeout.
  kDeadlinePassed,   // Connecting / Authenticating took too long.
  kGraceExpired,     // The reconnect grace window ended.
};
inline constexpr int kSessionEventCount = 17;

absl::string_view SessionStateName(SessionState state);
absl::string_view CloseReasonName(CloseReason reason);
absl::string_view SessionEventName(SessionEvent event);

// Parses the names above (as printed, e.g. "active", "timed_out").
std::optional<SessionState> ParseSessionState(absl::string_view name);
std::optional<CloseReason> ParseCloseReason(absl::string_view name);

// True for the states in which a login has completed and the session counts
// as a player in the game.
constexpr bool IsLoggedIn(SessionState state) {
  return state == SessionState::kActive || state == SessionState::kSuspect ||
         state == SessionState::kReconnecting;
}

// True for the logged-in states in which the session has its connection:
// it plays (moves, shoots, can be shot) and is told what happens.
constexpr bool IsLive(SessionState state) {
  return state == SessionState::kActive || state == SessionState::kSuspect;
}

}  // namespace gss

#endif  // COMMON_SESSION_STATE_H_
