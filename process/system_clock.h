// The production Clock of every process: the system's wall clock, read here
// because common/ never reads a clock itself.
#ifndef PROCESS_SYSTEM_CLOCK_H_
#define PROCESS_SYSTEM_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace gss::process {

// absl::Now(), the wall clock: not monotonic, so a step of the system time
// moves every deadline with it (the lifecycle's deadlines are seconds long;
// NTP slews, and a step is rare and shows as one early or late timeout).
// Truncated to whole microseconds: pings carry their send time in
// microseconds and the echoed time must compare equal after the round trip.
class SystemClock final : public Clock {
 public:
  absl::Time Now() const override {
    return absl::FromUnixMicros(absl::ToUnixMicros(absl::Now()));
  }
};

}  // namespace gss::process

#endif  // PROCESS_SYSTEM_CLOCK_H_
