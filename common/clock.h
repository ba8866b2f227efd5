// Time as the session core sees it: handed in by the caller, never read from
// the system here, so every lifecycle decision is deterministic under test.
#ifndef COMMON_CLOCK_H_
#define COMMON_CLOCK_H_

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"

namespace gss {

// The source of "now" for the compositions. Production code passes
// process/system_clock.h's SystemClock (the system's wall clock, outside
// common/); tests pass a ManualClock.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// A clock that moves only when told to. Safe to read from many threads while
// one thread advances it.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(absl::Time start = absl::UnixEpoch())
      : now_ns_(absl::ToUnixNanos(start)) {}

  absl::Time Now() const override {
    return absl::FromUnixNanos(now_ns_.load(std::memory_order_acquire));
  }
  void Advance(absl::Duration by) {
    now_ns_.fetch_add(absl::ToInt64Nanoseconds(by), std::memory_order_acq_rel);
  }
  void Set(absl::Time to) {
    now_ns_.store(absl::ToUnixNanos(to), std::memory_order_release);
  }

 private:
  std::atomic<int64_t> now_ns_;
};

}  // namespace gss

#endif  // COMMON_CLOCK_H_
