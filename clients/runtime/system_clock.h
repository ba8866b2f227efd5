// The production Clock for the client runtime: the system's time, read here
// because common/ never reads a clock itself.
#ifndef CLIENTS_RUNTIME_SYSTEM_CLOCK_H_
#define CLIENTS_RUNTIME_SYSTEM_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace gss::client {

class SystemClock final : public Clock {
 public:
  // Truncated to whole microseconds: a ping carries its send time in
  // microseconds and SessionManager matches the echoed pong exactly, so the
  // time it was given must survive the round trip unchanged.
  absl::Time Now() const override {
    return absl::FromUnixMicros(absl::ToUnixMicros(absl::Now()));
  }
};

}  // namespace gss::client

#endif  // CLIENTS_RUNTIME_SYSTEM_CLOCK_H_
