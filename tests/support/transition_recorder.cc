// Per-session recording of WatchSessions transitions for end-to-end tests,
// with waits bounded by deadlines.
#include "tests/support/transition_recorder.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace gss::testing {

using ops::v1::SessionState;
using ops::v1::Transition;

std::string Describe(const std::vector<Transition>& transitions) {
  std::string text;
  for (const Transition& t : transitions) {
    absl::StrAppend(
        &text, "  #", t.sequence(), " ", ops::v1::SessionState_Name(t.from()),
        "->", ops::v1::SessionState_Name(t.to()), " (", t.cause(),
        t.close_reason().empty() ? "" : ", ", t.close_reason(), ")\n");
  }
  return text.empty() ? "  (none)\n" : text;
}

void TransitionRecorder::Take(const ops::v1::WatchSessionsResponse& response) {
  if (response.has_transition()) {
    all_.push_back(response.transition());
    by_session_[response.transition().session_id()].push_back(
        response.transition());
  } else if (response.event_case() == ops::v1::WatchSessionsResponse::kLost) {
    lost_ += response.lost();
  }
}

void TransitionRecorder::Pump(absl::Duration timeout) {
  std::optional<ops::v1::WatchSessionsResponse> response =
      watch_->Next(timeout);
  while (response) {
    Take(*response);
    response = watch_->Next(absl::ZeroDuration());
  }
}

std::optional<Transition> TransitionRecorder::WaitForTransition(
    const std::string& session_id, SessionState to, absl::Duration timeout,
    const std::function<void()>& between, int occurrence) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Time next_between = absl::Now();
  while (true) {
    int seen = 0;
    for (const Transition& t : For(session_id)) {
      if (t.to() == to && ++seen == occurrence) return t;
    }
    const absl::Time now = absl::Now();
    if (now >= deadline) return std::nullopt;
    if (between && now >= next_between) {
      between();
      next_between = absl::Now() + between_interval_;
    }
    absl::Time wake = deadline;
    if (between) wake = std::min(wake, next_between);
    Pump(std::max(wake - absl::Now(), absl::ZeroDuration()));
  }
}

std::vector<Transition> TransitionRecorder::For(
    const std::string& session_id) const {
  auto it = by_session_.find(session_id);
  if (it == by_session_.end()) return {};
  return it->second;
}

}  // namespace gss::testing
