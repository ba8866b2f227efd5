// Timing and retry policies for the two compositions, with the defaults the
// project documents (docs/configuration.md) and the checks that keep them
// coherent.
#ifndef COMMON_SESSION_POLICY_H_
#define COMMON_SESSION_POLICY_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/session_lifecycle.h"

namespace gss {

// How a server judges each managed session's liveness and holds it for resume.
struct ServerSessionPolicy {
  // Connecting or Authenticating longer than this closes with kTimedOut.
  absl::Duration login_timeout = absl::Seconds(10);
  // Active with no inbound traffic for this long becomes Suspect. Clients
  // ping every 10 s, so one lost ping is tolerated.
  absl::Duration suspect_after = absl::Seconds(15);
  // Silent for this long (measured from the last inbound message, so it
  // includes the Suspect time) moves to Reconnecting, or closes with
  // kTimedOut when the grace window is zero.
  absl::Duration liveness_timeout = absl::Seconds(30);
  // How long a session whose transport is gone is held for a resume. Zero
  // disables holding.
  absl::Duration reconnect_grace = absl::Seconds(30);
  // Failed resume attempts (attributed to the session by a valid token) after
  // which a Reconnecting session closes with kResumeFailed.
  int max_resume_attempts = 3;

  absl::Status Validate() const;
  LifecycleRules rules() const {
    return {reconnect_grace > absl::ZeroDuration(), max_resume_attempts};
  }
};

// The client runtime flow: heartbeat, missed-pong detection and reconnect.
struct ClientSessionPolicy {
  absl::Duration heartbeat_interval = absl::Seconds(10);
  // A ping unanswered for this long counts as the one missed pong that
  // starts the reconnect flow.
  absl::Duration pong_timeout = absl::Seconds(10);
  // Wait before each reconnect attempt.
  absl::Duration reconnect_delay = absl::Seconds(5);
  int max_reconnect_attempts = 3;
  // One attempt (transport, then login or resume) that has not completed in
  // this time has failed.
  absl::Duration attempt_timeout = absl::Seconds(5);

  absl::Status Validate() const;
  LifecycleRules rules() const { return {true, max_reconnect_attempts}; }
};

}  // namespace gss

#endif  // COMMON_SESSION_POLICY_H_
