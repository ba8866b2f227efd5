// The one lifecycle state machine that both the client (SessionManager) and
// the server (MultiSessionManager) drive: which event is valid in which state,
// where it leads, and why a session closed.
#ifndef COMMON_SESSION_LIFECYCLE_H_
#define COMMON_SESSION_LIFECYCLE_H_

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "common/session_state.h"

namespace gss {

// The parts of a composition's policy that change where an event leads.
struct LifecycleRules {
  // Whether a logged-in session whose transport breaks, or whose liveness
  // runs out, waits in Reconnecting for a resume instead of closing.
  bool hold_for_resume = true;
  // Failed resume attempts after which a Reconnecting session closes with
  // kResumeFailed.
  int max_resume_attempts = 3;
};

struct Transition {
  SessionState from;
  SessionState to;
  SessionEvent cause;
  CloseReason reason;  // kNone unless `to` is kClosed.

  friend bool operator==(const Transition&, const Transition&) = default;
};

class SessionLifecycle {
 public:
  SessionLifecycle() = default;

  SessionState state() const { return state_; }
  CloseReason close_reason() const { return reason_; }
  int failed_resumes() const { return failed_resumes_; }

  // Applies one event. Returns the transition when the state changes (a
  // successful resume is always reported, even Active -> Active, because the
  // session moved to a new transport), std::nullopt when the event is valid
  // but changes no state (a heartbeat while Active), and FailedPrecondition
  // when the event is not valid in the current state; nothing changes then.
  absl::StatusOr<std::optional<Transition>> Apply(SessionEvent event,
                                                  const LifecycleRules& rules);

 private:
  SessionState state_ = SessionState::kConnecting;
  CloseReason reason_ = CloseReason::kNone;
  uint8_t failed_resumes_ = 0;
};

}  // namespace gss

#endif  // COMMON_SESSION_LIFECYCLE_H_
