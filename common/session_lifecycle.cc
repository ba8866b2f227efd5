#include "common/session_lifecycle.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace gss {
namespace {

using E = SessionEvent;
using S = SessionState;
using R = CloseReason;

// Where an event leads. `stay` means valid without a state change; `invalid`
// means the event has no meaning in that state.
struct Step {
  enum Kind : uint8_t { kInvalid, kStay, kMove } kind;
  S to = S::kClosed;
  R reason = R::kNone;
};
constexpr Step Invalid() { return {Step::kInvalid}; }
constexpr Step Stay() { return {Step::kStay}; }
constexpr Step MoveTo(S to) { return {Step::kMove, to, R::kNone}; }
constexpr Step Close(R reason) { return {Step::kMove, S::kClosed, reason}; }

// Transport loss or silence for a logged-in session: hold it for a resume if
// the policy allows, otherwise close with `reason`.
Step LoseLoggedIn(const LifecycleRules& rules, R reason) {
  return rules.hold_for_resume ? MoveTo(S::kReconnecting) : Close(reason);
}

Step Next(S state, E event, const LifecycleRules& rules, int failed_resumes) {
  if (state == S::kClosed) return Invalid();
  // Host decisions that end a session from any live state.
  switch (event) {
    case E::kEvict:
      return Close(R::kEvicted);
    case E::kShutdown:
      return Close(R::kServerShutdown);
    case E::kReplace:
      return Close(R::kReplaced);
    default:
      break;
  }
  switch (state) {
    case S::kConnecting:
      switch (event) {
        case E::kTransportConnected:
          return MoveTo(S::kAuthenticating);
        case E::kTransportClosed:
        case E::kTransportLost:
          return Close(R::kTransportClosed);
        case E::kDeadlinePassed:
          return Close(R::kTimedOut);
        case E::kAbsorbedByResume:
          return Close(R::kResumed);
        default:
          return Invalid();
      }
    case S::kAuthenticating:
      switch (event) {
        case E::kLoginSucceeded:
        case E::kResumeSucceeded:
          return MoveTo(S::kActive);
        case E::kLoginFailed:
          return Close(R::kLoginFailed);
        case E::kResumeFailed:  // The peer may still log in afresh.
        case E::kHeartbeat:
        case E::kInboundMessage:
          return Stay();
        case E::kTransportClosed:
        case E::kTransportLost:
          return Close(R::kTransportClosed);
        case E::kDeadlinePassed:
          return Close(R::kTimedOut);
        case E::kAbsorbedByResume:
          return Close(R::kResumed);
        default:
          return Invalid();
      }
    case S::kActive:
    case S::kSuspect:
      switch (event) {
        case E::kHeartbeat:
        case E::kInboundMessage:
          return state == S::kSuspect ? MoveTo(S::kActive) : Stay();
        case E::kLivenessOverdue:
          return state == S::kActive ? MoveTo(S::kSuspect) : Stay();
        case E::kLivenessLost:
          return LoseLoggedIn(rules, R::kTimedOut);
        case E::kTransportLost:
          return LoseLoggedIn(rules, R::kTransportClosed);
        case E::kTransportClosed:
          return Close(R::kTransportClosed);
        case E::kResumeSucceeded:  // The peer noticed a dead link first.
          return MoveTo(S::kActive);
        default:
          return Invalid();
      }
    case S::kReconnecting:
      switch (event) {
        case E::kResumeSucceeded:
        case E::kLoginSucceeded:  // A client logging in afresh after restart.
          return MoveTo(S::kActive);
        case E::kResumeFailed:
          return failed_resumes + 1 >= rules.max_resume_attempts
                     ? Close(R::kResumeFailed)
                     : Stay();
        case E::kLoginFailed:
          return Close(R::kLoginFailed);
        case E::kGraceExpired:
          return Close(R::kGraceExpired);
        case E::kTransportClosed:
          return Close(R::kTransportClosed);
        // A reconnect attempt's own transport coming and going, and traffic
        // on it before the resume completes.
        case E::kTransportConnected:
        case E::kTransportLost:
        case E::kHeartbeat:
        case E::kInboundMessage:
          return Stay();
        default:
          return Invalid();
      }
    case S::kClosed:
      break;
  }
  return Invalid();
}

}  // namespace

absl::StatusOr<std::optional<Transition>> SessionLifecycle::Apply(
    SessionEvent event, const LifecycleRules& rules) {
  const Step step = Next(state_, event, rules, failed_resumes_);
  if (step.kind == Step::kInvalid) {
    return absl::FailedPreconditionError(
        absl::StrCat("event ", SessionEventName(event),
                     " is not valid in state ", SessionStateName(state_)));
  }
  if (event == E::kResumeFailed && state_ == S::kReconnecting) {
    ++failed_resumes_;
  }
  if (event == E::kResumeSucceeded || event == E::kLoginSucceeded) {
    failed_resumes_ = 0;
  }
  if (step.kind == Step::kStay && event != E::kResumeSucceeded) {
    return std::nullopt;
  }
  Transition transition{state_, step.to, event, step.reason};
  state_ = step.to;
  reason_ = step.reason;
  return transition;
}

}  // namespace gss
