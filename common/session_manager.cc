#include "common/session_manager.h"

#include <algorithm>
#include <array>
#include <utility>

#include "absl/strings/str_cat.h"

namespace gss {
namespace {

constexpr std::array<absl::string_view, 6> kActionTypeNames = {
    "open_transport", "close_transport", "send_login",
    "send_resume",    "send_ping",       "notify"};

constexpr std::array<absl::string_view, 6> kNoticeNames = {
    "none",
    "session_started",
    "state_changed",
    "reconnect_scheduled",
    "server_restarted",
    "gave_up"};

absl::Status NotApplicable(absl::string_view input, absl::string_view why) {
  return absl::FailedPreconditionError(absl::StrCat(input, " ignored: ", why));
}

}  // namespace

absl::string_view ClientActionTypeName(ClientActionType type) {
  return kActionTypeNames[static_cast<size_t>(type)];
}

absl::string_view ClientNoticeName(ClientNotice notice) {
  return kNoticeNames[static_cast<size_t>(notice)];
}

std::string ClientAction::DebugString() const {
  std::string out(ClientActionTypeName(type));
  switch (type) {
    case ClientActionType::kOpenTransport:
      absl::StrAppend(&out, " attempt=", attempt);
      break;
    case ClientActionType::kSendResume:
      absl::StrAppend(&out, " token=", token.Encode());
      break;
    case ClientActionType::kSendPing:
      absl::StrAppend(&out, " sent_at=", absl::FormatTime(ping_sent_at));
      break;
    case ClientActionType::kNotify:
      absl::StrAppend(&out, " ", ClientNoticeName(notice));
      if (notice == ClientNotice::kStateChanged) {
        absl::StrAppend(&out, " ", SessionStateName(transition.from), "->",
                        SessionStateName(transition.to), " on ",
                        SessionEventName(transition.cause));
        if (transition.reason != CloseReason::kNone) {
          absl::StrAppend(&out, " (", CloseReasonName(transition.reason), ")");
        }
      }
      if (notice == ClientNotice::kReconnectScheduled) {
        absl::StrAppend(&out, " attempt=", attempt,
                        " at=", absl::FormatTime(at));
      }
      break;
    default:
      break;
  }
  if (!detail.empty()) absl::StrAppend(&out, " detail=\"", detail, "\"");
  return out;
}

absl::StatusOr<SessionManager> SessionManager::Create(
    ClientSessionPolicy policy, const Clock& clock) {
  if (absl::Status status = policy.Validate(); !status.ok()) return status;
  return SessionManager(policy, clock);
}

SessionManager::SessionManager(ClientSessionPolicy policy, const Clock& clock)
    : policy_(policy), rules_(policy.rules()), clock_(&clock) {}

SessionState SessionManager::state() const {
  return lifecycle_ ? lifecycle_->state() : SessionState::kClosed;
}

CloseReason SessionManager::close_reason() const {
  return lifecycle_ ? lifecycle_->close_reason() : CloseReason::kNone;
}

absl::Time SessionManager::next_wakeup() const {
  // While a ping is in flight the next one waits for its pong (or for the
  // pong deadline, which ends the transport anyway).
  const absl::Time ping_at = pong_deadline_ == absl::InfiniteFuture()
                                 ? next_ping_at_
                                 : absl::InfiniteFuture();
  return std::min(
      {attempt_deadline_, next_attempt_at_, ping_at, pong_deadline_});
}

std::vector<ClientAction> SessionManager::TakeActions() {
  return std::exchange(actions_, {});
}

absl::Status SessionManager::Connect() {
  if (state() != SessionState::kClosed) {
    return NotApplicable("Connect", "the session is already running");
  }
  const absl::Time now = clock_->Now();
  lifecycle_.emplace();
  reconnect_attempt_ = 0;
  last_rtt_.reset();
  DisarmTimers();
  pending_ = Handshake::kNone;
  link_ = Link::kOpening;
  attempt_deadline_ = now + policy_.attempt_timeout;
  Notify(ClientNotice::kSessionStarted);
  Emit({.type = ClientActionType::kOpenTransport, .attempt = 0});
  return absl::OkStatus();
}

absl::Status SessionManager::Disconnect() {
  if (state() == SessionState::kClosed) {
    return NotApplicable("Disconnect", "the session is closed");
  }
  CloseTransportIfAny();
  token_.reset();
  return Apply(SessionEvent::kTransportClosed);
}

absl::Status SessionManager::OnTransportConnected() {
  if (link_ != Link::kOpening) {
    return NotApplicable("OnTransportConnected", "no transport is opening");
  }
  // Connecting -> Authenticating; in Reconnecting the attempt's transport
  // coming up changes no state.
  if (absl::Status status = Apply(SessionEvent::kTransportConnected);
      !status.ok()) {
    return status;
  }
  link_ = Link::kUp;
  SendHandshake();
  return absl::OkStatus();
}

absl::Status SessionManager::OnTransportLost() {
  if (link_ == Link::kDown) {
    return NotApplicable("OnTransportLost", "there is no transport");
  }
  const absl::Time now = clock_->Now();
  link_ = Link::kDown;
  switch (state()) {
    case SessionState::kActive:
    case SessionState::kSuspect:
      StartReconnect(SessionEvent::kTransportLost, now);
      return absl::OkStatus();
    case SessionState::kReconnecting:
      FailAttempt(now);
      return absl::OkStatus();
    default:
      // Not logged in yet, so there is nothing to resume: the lifecycle
      // closes the session.
      return Apply(SessionEvent::kTransportLost);
  }
}

absl::Status SessionManager::OnWelcome(const WelcomeInfo& welcome,
                                       bool resumed) {
  if (link_ != Link::kUp || pending_ == Handshake::kNone) {
    return NotApplicable("OnWelcome", "no login or resume is pending");
  }
  if (resumed != (pending_ == Handshake::kResume)) {
    return NotApplicable("OnWelcome",
                         resumed ? "a login, not a resume, is pending"
                                 : "a resume, not a login, is pending");
  }
  if (absl::Status status = Apply(resumed ? SessionEvent::kResumeSucceeded
                                          : SessionEvent::kLoginSucceeded);
      !status.ok()) {
    return status;
  }
  const absl::Time now = clock_->Now();
  pending_ = Handshake::kNone;
  reconnect_attempt_ = 0;
  DisarmTimers();
  next_ping_at_ = now + policy_.heartbeat_interval;
  if (welcome.resume_token.session.valid()) {
    token_ = welcome.resume_token;
  } else {
    token_.reset();
  }
  server_version_ = welcome.server_version;
  if (!welcome.instance_id.empty()) {
    if (!instance_id_.empty() && instance_id_ != welcome.instance_id) {
      Emit({.type = ClientActionType::kNotify,
            .notice = ClientNotice::kServerRestarted,
            .detail = instance_id_});
    }
    instance_id_ = welcome.instance_id;
  }
  return absl::OkStatus();
}

absl::Status SessionManager::OnLoginRejected(absl::string_view reason) {
  if (link_ != Link::kUp || pending_ != Handshake::kLogin) {
    return NotApplicable("OnLoginRejected", "no login is pending");
  }
  CloseTransportIfAny();
  token_.reset();
  return Apply(SessionEvent::kLoginFailed, reason);
}

absl::Status SessionManager::OnResumeRejected() {
  if (link_ != Link::kUp || pending_ != Handshake::kResume) {
    return NotApplicable("OnResumeRejected", "no resume is pending");
  }
  // In Reconnecting the lifecycle's kResumeFailed means "an attempt is used
  // up"; this attempt is not over, it goes on with a fresh login, so the
  // rejection counts only as traffic.
  const SessionEvent event = state() == SessionState::kReconnecting
                                 ? SessionEvent::kInboundMessage
                                 : SessionEvent::kResumeFailed;
  if (absl::Status status = Apply(event); !status.ok()) return status;
  token_.reset();
  SendHandshake();
  return absl::OkStatus();
}

absl::Status SessionManager::OnPong(absl::Time echoed_ping_sent_at) {
  const SessionState current = state();
  if ((current != SessionState::kActive && current != SessionState::kSuspect) ||
      pong_deadline_ == absl::InfiniteFuture()) {
    return NotApplicable("OnPong", "no ping is in flight");
  }
  if (echoed_ping_sent_at != ping_sent_at_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "OnPong ignored: echoes ", absl::FormatTime(echoed_ping_sent_at),
        ", the ping in flight was sent at ", absl::FormatTime(ping_sent_at_)));
  }
  if (absl::Status status = Apply(SessionEvent::kHeartbeat); !status.ok()) {
    return status;
  }
  last_rtt_ = clock_->Now() - ping_sent_at_;
  pong_deadline_ = absl::InfiniteFuture();
  return absl::OkStatus();
}

absl::Status SessionManager::OnInboundMessage() {
  if (link_ != Link::kUp) {
    return NotApplicable("OnInboundMessage", "no transport is up");
  }
  // Only a pong proves the round trip (a half-open link may still deliver
  // in one direction), so this feeds the lifecycle but no timer.
  return Apply(SessionEvent::kInboundMessage);
}

void SessionManager::Advance() {
  const absl::Time now = clock_->Now();
  // Each run arms its follow-up timers at or after `now`; a zero
  // reconnect_delay lets one attempt follow another in the same call, which
  // the bounded attempt count ends.
  while (RunDueTimer(now)) {
  }
}

bool SessionManager::RunDueTimer(absl::Time now) {
  if (now >= attempt_deadline_) {
    attempt_deadline_ = absl::InfiniteFuture();
    CloseTransportIfAny();
    if (state() == SessionState::kReconnecting) {
      FailAttempt(now);
    } else {
      // Connecting or Authenticating: nothing to resume yet.
      Apply(SessionEvent::kDeadlinePassed).IgnoreError();
    }
    return true;
  }
  if (now >= pong_deadline_) {
    // The one missed pong: the transport is presumed half-open.
    CloseTransportIfAny();
    StartReconnect(SessionEvent::kLivenessLost, now);
    return true;
  }
  if (now >= next_ping_at_ && pong_deadline_ == absl::InfiniteFuture()) {
    ping_sent_at_ = now;
    pong_deadline_ = now + policy_.pong_timeout;
    next_ping_at_ = now + policy_.heartbeat_interval;
    Emit({.type = ClientActionType::kSendPing, .ping_sent_at = now});
    return true;
  }
  if (now >= next_attempt_at_) {
    next_attempt_at_ = absl::InfiniteFuture();
    ++reconnect_attempt_;
    link_ = Link::kOpening;
    attempt_deadline_ = now + policy_.attempt_timeout;
    Emit({.type = ClientActionType::kOpenTransport,
          .attempt = reconnect_attempt_});
    return true;
  }
  return false;
}

absl::Status SessionManager::Apply(SessionEvent event,
                                   absl::string_view detail) {
  if (!lifecycle_.has_value()) {
    return absl::FailedPreconditionError("the session never started");
  }
  absl::StatusOr<std::optional<Transition>> result =
      lifecycle_->Apply(event, rules_);
  if (!result.ok()) return result.status();
  if (!result->has_value()) return absl::OkStatus();
  const Transition& transition = **result;
  if (transition.to == SessionState::kClosed) {
    DisarmTimers();
    link_ = Link::kDown;
    pending_ = Handshake::kNone;
  }
  Emit({.type = ClientActionType::kNotify,
        .notice = ClientNotice::kStateChanged,
        .transition = transition,
        .detail = std::string(detail)});
  return absl::OkStatus();
}

void SessionManager::Emit(ClientAction action) {
  actions_.push_back(std::move(action));
}

void SessionManager::Notify(ClientNotice notice) {
  Emit({.type = ClientActionType::kNotify, .notice = notice});
}

void SessionManager::SendHandshake() {
  if (token_.has_value()) {
    pending_ = Handshake::kResume;
    Emit({.type = ClientActionType::kSendResume, .token = *token_});
  } else {
    pending_ = Handshake::kLogin;
    Emit({.type = ClientActionType::kSendLogin});
  }
}

void SessionManager::StartReconnect(SessionEvent cause, absl::Time now) {
  DisarmTimers();
  link_ = Link::kDown;
  pending_ = Handshake::kNone;
  reconnect_attempt_ = 0;
  // Hold-for-resume is always on for the client, so this leads to
  // Reconnecting; the lifecycle decides, not this class.
  Apply(cause).IgnoreError();
  if (state() == SessionState::kReconnecting) ScheduleAttempt(now);
}

void SessionManager::ScheduleAttempt(absl::Time now) {
  next_attempt_at_ = now + policy_.reconnect_delay;
  Emit({.type = ClientActionType::kNotify,
        .attempt = reconnect_attempt_ + 1,
        .notice = ClientNotice::kReconnectScheduled,
        .at = next_attempt_at_});
}

void SessionManager::FailAttempt(absl::Time now) {
  link_ = Link::kDown;
  pending_ = Handshake::kNone;
  attempt_deadline_ = absl::InfiniteFuture();
  // The lifecycle counts failed attempts and closes with kResumeFailed when
  // they are used up.
  Apply(SessionEvent::kResumeFailed).IgnoreError();
  if (state() == SessionState::kClosed) {
    Notify(ClientNotice::kGaveUp);
  } else {
    ScheduleAttempt(now);
  }
}

void SessionManager::CloseTransportIfAny() {
  if (link_ == Link::kDown) return;
  link_ = Link::kDown;
  Emit({.type = ClientActionType::kCloseTransport});
}

void SessionManager::DisarmTimers() {
  attempt_deadline_ = absl::InfiniteFuture();
  next_attempt_at_ = absl::InfiniteFuture();
  next_ping_at_ = absl::InfiniteFuture();
  pong_deadline_ = absl::InfiniteFuture();
}

}  // namespace gss
