// Records the transitions a WatchSessions stream delivers, per session, and
// lets a test wait for a given session to reach a given state.
#ifndef TESTS_SUPPORT_TRANSITION_RECORDER_H_
#define TESTS_SUPPORT_TRANSITION_RECORDER_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gss/ops/v1/ops.pb.h"
#include "tests/support/ops_client.h"

namespace gss::testing {

// "ACTIVE->SUSPECT (liveness_overdue)" lines, for failure messages.
std::string Describe(const std::vector<ops::v1::Transition>& transitions);

class TransitionRecorder {
 public:
  explicit TransitionRecorder(std::unique_ptr<SessionWatch> watch)
      : watch_(std::move(watch)) {}

  // Takes what the watch has delivered within `timeout` (at least one
  // response, unless the timeout passes first).
  void Pump(absl::Duration timeout);
  // Pumps until `session_id` has its `occurrence`-th transition into `to`,
  // calling `between` (if given) every between_interval() meanwhile, e.g. to
  // keep another peer alive. Returns that transition, or nullopt on timeout.
  std::optional<ops::v1::Transition> WaitForTransition(
      const std::string& session_id, ops::v1::SessionState to,
      absl::Duration timeout, const std::function<void()>& between = nullptr,
      int occurrence = 1);
  void set_between_interval(absl::Duration interval) {
    between_interval_ = interval;
  }

  // Transitions seen so far for `session_id`, in arrival order.
  std::vector<ops::v1::Transition> For(const std::string& session_id) const;
  const std::vector<ops::v1::Transition>& all() const { return all_; }
  // Transitions the server said it dropped because this watcher lagged.
  uint64_t lost() const { return lost_; }
  SessionWatch& watch() { return *watch_; }

 private:
  void Take(const ops::v1::WatchSessionsResponse& response);

  std::unique_ptr<SessionWatch> watch_;
  std::vector<ops::v1::Transition> all_;
  std::map<std::string, std::vector<ops::v1::Transition>> by_session_;
  uint64_t lost_ = 0;
  absl::Duration between_interval_ = absl::Milliseconds(100);
};

}  // namespace gss::testing

#endif  // TESTS_SUPPORT_TRANSITION_RECORDER_H_
