// A fixed-size log-linear latency histogram (64 sub-buckets per power of two,
// about 1.6% resolution): constant memory however long the run, mergeable.
#ifndef CLIENTS_LOADGEN_LATENCY_HISTOGRAM_H_
#define CLIENTS_LOADGEN_LATENCY_HISTOGRAM_H_

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>

namespace gss::loadgen {

class LatencyHistogram {
 public:
  // Values up to 2^47 (about 140 s in nanoseconds); larger ones share the
  // last bucket.
  static constexpr int kBuckets = 42 * 64 + 64;

  // Relaxed atomics: one thread records while another may read for progress
  // output; no ordering with other data is needed.
  void Record(uint64_t value) {
    buckets_[Index(value)].fetch_add(1, std::memory_order_relaxed);
    uint64_t max = max_.load(std::memory_order_relaxed);
    while (value > max &&
           !max_.compare_exchange_weak(max, value, std::memory_order_relaxed)) {
    }
  }

  void Merge(const LatencyHistogram& other) {
    for (int i = 0; i < kBuckets; ++i) {
      const uint64_t n = other.buckets_[i].load(std::memory_order_relaxed);
      if (n != 0) buckets_[i].fetch_add(n, std::memory_order_relaxed);
    }
    const uint64_t other_max = other.max_.load(std::memory_order_relaxed);
    if (other_max > max_.load(std::memory_order_relaxed)) {
      max_.store(other_max, std::memory_order_relaxed);
    }
  }

  uint64_t Count() const {
    uint64_t total = 0;
    for (const auto& bucket : buckets_) {
      total += bucket.load(std::memory_order_relaxed);
    }
    return total;
  }

  uint64_t Max() const { return max_.load(std::memory_order_relaxed); }

  // The value at quantile `q` (0..1): the middle of the bucket holding it,
  // never above the largest value recorded. 0 when empty.
  uint64_t Percentile(double q) const {
    const uint64_t total = Count();
    if (total == 0) return 0;
    auto rank = static_cast<uint64_t>(q * static_cast<double>(total));
    if (rank >= total) rank = total - 1;
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += buckets_[i].load(std::memory_order_relaxed);
      if (seen > rank) {
        return std::min(Lower(i) + Width(i) / 2, Max());
      }
    }
    return Max();
  }

 private:
  static int Index(uint64_t value) {
    if (value < 128) return static_cast<int>(value);
    const int msb = 63 - __builtin_clzll(value);
    const int shift = msb - 6;
    const int index =
        (shift + 1) * 64 + static_cast<int>((value >> shift) - 64);
    return std::min(index, kBuckets - 1);
  }
  static uint64_t Lower(int index) {
    if (index < 128) return static_cast<uint64_t>(index);
    const int shift = index / 64 - 1;
    return (static_cast<uint64_t>(index % 64) + 64) << shift;
  }
  static uint64_t Width(int index) {
    if (index < 128) return 1;
    return uint64_t{1} << (index / 64 - 1);
  }

  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> max_{0};
};

}  // namespace gss::loadgen

#endif  // CLIENTS_LOADGEN_LATENCY_HISTOGRAM_H_
