// The timing wheel alone: what a session's deadline costs to arm, move and
// fire, at the sizes the manager runs (a shard's wheel of 4096 slots).
#include <cstdint>
#include <vector>

#include "benchmark/benchmark.h"
#include "common/timing_wheel.h"

namespace gss {
namespace {

// Arms N timers spread over a turn, then advances tick by tick until all
// have fired: the cost per timer of one arm and one fire.
void BM_ArmAndFire(benchmark::State& state) {
  const auto timers = static_cast<uint32_t>(state.range(0));
  constexpr int kSlots = 4096;
  std::vector<TimerNode> nodes(timers);
  auto node_of = [&nodes](uint32_t slot) -> TimerNode& { return nodes[slot]; };
  int64_t tick = 0;
  for (auto _ : state) {
    TimingWheel wheel(kSlots, tick);
    for (uint32_t slot = 0; slot < timers; ++slot) {
      wheel.ArmNoLaterThan(slot, tick + 1 + (slot * 7919) % kSlots, node_of);
    }
    int64_t fired = 0;
    const int64_t end = tick + kSlots;
    for (int64_t t = tick + 1; t <= end; ++t) {
      wheel.Advance(t, node_of, [&fired](uint32_t) { ++fired; });
    }
    benchmark::DoNotOptimize(fired);
    tick = end;
  }
  state.SetItemsProcessed(state.iterations() * timers);
}
BENCHMARK(BM_ArmAndFire)->Arg(10'000)->Arg(100'000);

// A deadline moved earlier (a state change) for timers already armed: one
// unlink and one link each.
void BM_MoveEarlier(benchmark::State& state) {
  const auto timers = static_cast<uint32_t>(state.range(0));
  constexpr int kSlots = 4096;
  std::vector<TimerNode> nodes(timers);
  auto node_of = [&nodes](uint32_t slot) -> TimerNode& { return nodes[slot]; };
  TimingWheel wheel(kSlots, 0);
  for (auto _ : state) {
    state.PauseTiming();
    for (uint32_t slot = 0; slot < timers; ++slot) {
      wheel.Disarm(slot, node_of);
      wheel.ArmNoLaterThan(slot, kSlots - 1, node_of);
    }
    state.ResumeTiming();
    for (uint32_t slot = 0; slot < timers; ++slot) {
      wheel.ArmNoLaterThan(slot, 1 + slot % (kSlots - 2), node_of);
    }
  }
  state.SetItemsProcessed(state.iterations() * timers);
}
BENCHMARK(BM_MoveEarlier)->Arg(100'000);

}  // namespace
}  // namespace gss

BENCHMARK_MAIN();
