// A per-peer token bucket: sustained rate plus burst, with time handed in by
// the caller so it is deterministic under test.
#ifndef GATEWAY_RATE_LIMITER_H_
#define GATEWAY_RATE_LIMITER_H_

#include <algorithm>
#include <chrono>

namespace gss::gateway {

// Starts full (`burst` tokens) and refills at `rate_per_second` up to
// `burst`. Not thread-safe: each peer's bucket is used on that peer's strand.
class TokenBucket {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  TokenBucket(double rate_per_second, double burst, TimePoint now)
      : rate_per_second_(rate_per_second),
        burst_(burst),
        tokens_(burst),
        last_(now) {}

  // Takes `cost` tokens if there are enough at `now`. Time going backwards
  // is treated as no time passing.
  bool TryTake(TimePoint now, double cost = 1.0) {
    Refill(now);
    if (tokens_ < cost) return false;
    tokens_ -= cost;
    return true;
  }

  double tokens(TimePoint now) {
    Refill(now);
    return tokens_;
  }

 private:
  void Refill(TimePoint now) {
    if (now <= last_) return;
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed * rate_per_second_);
    last_ = now;
  }

  double rate_per_second_;
  double burst_;
  double tokens_;
  TimePoint last_;
};

}  // namespace gss::gateway

#endif  // GATEWAY_RATE_LIMITER_H_
