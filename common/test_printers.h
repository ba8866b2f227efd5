// GoogleTest printers for the session core's types, so failed expectations
// name states, reasons and ids instead of dumping bytes. Tests only.
#ifndef COMMON_TEST_PRINTERS_H_
#define COMMON_TEST_PRINTERS_H_

#include <ostream>

#include "absl/time/time.h"
#include "common/gameplay_rules.h"
#include "common/multi_session_manager.h"
#include "common/session_state.h"
#include "common/session_types.h"

namespace gss {

inline void PrintTo(SessionState state, std::ostream* os) {
  *os << SessionStateName(state);
}
inline void PrintTo(CloseReason reason, std::ostream* os) {
  *os << CloseReasonName(reason);
}
inline void PrintTo(SessionEvent event, std::ostream* os) {
  *os << SessionEventName(event);
}
inline void PrintTo(InputRejection rejection, std::ostream* os) {
  *os << InputRejectionName(rejection);
}
inline void PrintTo(SessionId id, std::ostream* os) { *os << id.ToString(); }
inline void PrintTo(const GridPosition& p, std::ostream* os) {
  *os << "(" << p.x << "," << p.y << ")";
}
inline void PrintTo(const RemoteIdentity& remote, std::ostream* os) {
  *os << remote.ToString();
}
inline void PrintTo(const SessionTransition& t, std::ostream* os) {
  *os << t.session.ToString() << " #" << t.sequence << " "
      << SessionStateName(t.transition.from) << "->"
      << SessionStateName(t.transition.to) << " ("
      << SessionEventName(t.transition.cause) << ", "
      << CloseReasonName(t.transition.reason) << ") at "
      << absl::FormatTime(t.at);
}

}  // namespace gss

#endif  // COMMON_TEST_PRINTERS_H_
