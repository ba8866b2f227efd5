// The production clock of the session service: the system's time, read here
// because common/ never reads a clock itself.
#ifndef SESSION_SERVICE_SYSTEM_CLOCK_H_
#define SESSION_SERVICE_SYSTEM_CLOCK_H_

#include "absl/time/clock.h"
#include "common/clock.h"

namespace gss {

class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

}  // namespace gss

#endif  // SESSION_SERVICE_SYSTEM_CLOCK_H_
