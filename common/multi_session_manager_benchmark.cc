// Benchmarks of MultiSessionManager: events per second per core, per-event
// cost with many armed deadlines, AdvanceTime cost and bytes per session.
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "common/clock.h"
#include "common/gameplay_rules.h"
#include "common/multi_session_manager.h"
#include "common/session_state.h"
#include "common/session_types.h"

namespace gss {
namespace {

constexpr int64_t kHotSet = 1000;

absl::Time Start() { return absl::FromUnixSeconds(1'700'000'000); }

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "benchmark set-up failed: %s\n", what);
    std::abort();
  }
}

RemoteIdentity RemoteFor(uint64_t i) {
  RemoteIdentity remote;
  remote.gateway_id = 1 + static_cast<uint32_t>(i % 4);
  remote.connection_id = i + 1;
  remote.address = PeerAddress::V4(0x0A000000u + static_cast<uint32_t>(i),
                                   static_cast<uint16_t>(40000 + i % 20000));
  return remote;
}

// Player ids as an identity provider hands them out (UUIDs, 36 bytes: longer
// than the small-string buffer, so each copy costs a heap block).
std::string PlayerFor(uint64_t i) {
  return absl::StrFormat(
      "%08x-%04x-4%03x-8%03x-%012x", static_cast<uint32_t>(i * 2654435761u),
      static_cast<uint32_t>(i >> 32) & 0xffff, static_cast<uint32_t>(i) & 0xfff,
      static_cast<uint32_t>(i >> 12) & 0xfff, i);
}

// Deadlines an hour away: nothing expires while events are measured.
MultiSessionOptions QuietOptions() {
  MultiSessionOptions options;
  options.policy.login_timeout = absl::Hours(1);
  options.policy.suspect_after = absl::Hours(1);
  options.policy.liveness_timeout = absl::Hours(2);
  options.policy.reconnect_grace = absl::Hours(1);
  return options;
}

struct Population {
  ManualClock clock{Start()};
  std::unique_ptr<MultiSessionManager> manager;
  std::vector<RemoteIdentity> remotes;  // Shuffled: events arrive at random.
  // The same remotes split by the parity of their session's shard, for two
  // threads that each drive only their own shards.
  std::array<std::vector<RemoteIdentity>, 2> by_shard_parity;
  uint64_t next_remote = 0;
};

// Connects `count` new remotes and logs each in as its own player.
void AddLoggedIn(Population& population, size_t count, bool keep_remotes) {
  PlayerGrant grant;
  grant.role = "player";
  ResumeSecret secret{};
  for (size_t k = 0; k < count; ++k) {
    const uint64_t i = population.next_remote++;
    const RemoteIdentity remote = RemoteFor(i);
    Check(population.manager->OnTransportConnected(remote).ok(), "connect");
    grant.player_id = PlayerFor(i);
    grant.display_name = absl::StrCat("Player ", i);
    std::memcpy(secret.data(), &i, sizeof(i));
    Check(population.manager->Login(remote, grant, secret).ok(), "login");
    if (keep_remotes) population.remotes.push_back(remote);
  }
}

std::unique_ptr<Population> Populate(size_t count,
                                     const MultiSessionOptions& options,
                                     bool keep_remotes) {
  auto population = std::make_unique<Population>();
  auto manager = MultiSessionManager::Create(options, population->clock);
  Check(manager.ok(), "create");
  population->manager = *std::move(manager);
  if (keep_remotes) population->remotes.reserve(count);
  AddLoggedIn(*population, count, keep_remotes);
  std::shuffle(population->remotes.begin(), population->remotes.end(),
               std::mt19937_64(42));
  return population;
}

// One population per size for the event benchmarks, built on first use and
// shared by their threads and repetitions.
Population& EventPopulation(size_t count) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* populations =
      new std::map<size_t, std::unique_ptr<Population>>();
  absl::MutexLock lock(&mu);
  std::unique_ptr<Population>& population = (*populations)[count];
  if (population == nullptr) {
    population = Populate(count, QuietOptions(), /*keep_remotes=*/true);
    Check(population->manager->Counts()
                  .by_state[static_cast<int>(SessionState::kActive)] ==
              static_cast<int64_t>(count),
          "every session active");
    for (const RemoteIdentity& remote : population->remotes) {
      const std::optional<SessionSnapshot> session =
          population->manager->FindByRemote(remote);
      Check(session.has_value(), "find by remote");
      population->by_shard_parity[session->id.shard() % 2].push_back(remote);
    }
  }
  return *population;
}

// The remotes this benchmark thread drives: with range(1) == 1 (two
// threads), those of its own shards; otherwise its share of all of them.
std::pair<const RemoteIdentity*, size_t> Partition(
    const Population& population, const benchmark::State& state) {
  if (state.range(1) == 1) {
    const std::vector<RemoteIdentity>& mine =
        population.by_shard_parity[state.thread_index() % 2];
    return {mine.data(), mine.size()};
  }
  const size_t per_thread = population.remotes.size() / state.threads();
  return {population.remotes.data() + per_thread * state.thread_index(),
          per_thread};
}

int64_t RssBytes() {
  long pages = 0;
  long resident = 0;
  FILE* statm = std::fopen("/proc/self/statm", "r");
  Check(statm != nullptr, "open /proc/self/statm");
  Check(std::fscanf(statm, "%ld %ld", &pages, &resident) == 2, "read statm");
  std::fclose(statm);
  return static_cast<int64_t>(resident) * sysconf(_SC_PAGESIZE);
}

int64_t HeapBytes() {
  const struct mallinfo2 info = mallinfo2();
  return static_cast<int64_t>(info.uordblks + info.hblkhd);
}

// --- Bytes per managed session
//
// Runs first, in a fresh process, so freed memory of other benchmarks does
// not hide growth. RSS is what the brief asks for; heap bytes in use are
// exact and do not depend on what the allocator had cached.

void BM_MemoryPerSession(benchmark::State& state) {
  const size_t count = state.range(0);
  for (auto _ : state) {
    malloc_trim(0);
    const int64_t rss_before = RssBytes();
    const int64_t heap_before = HeapBytes();
    std::unique_ptr<Population> population =
        Populate(count, MultiSessionOptions(), /*keep_remotes=*/false);
    const int64_t rss_after = RssBytes();
    const int64_t heap_after = HeapBytes();
    state.counters["rss_bytes_per_session"] =
        static_cast<double>(rss_after - rss_before) / count;
    state.counters["heap_bytes_per_session"] =
        static_cast<double>(heap_after - heap_before) / count;
    state.PauseTiming();
    population.reset();
    malloc_trim(0);
    state.ResumeTiming();
  }
  // Time per iteration is connect + login of every session.
  state.SetItemsProcessed(state.iterations() * count);
}
BENCHMARK(BM_MemoryPerSession)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

// --- Events per second per core

void BM_Heartbeat(benchmark::State& state) {
  Population& population = EventPopulation(state.range(0));
  const auto [remotes, size] = Partition(population, state);
  size_t i = 0;
  int batch = 0;
  for (auto _ : state) {
    if (!population.manager->OnHeartbeat(remotes[i]).ok()) {
      state.SkipWithError("heartbeat refused");
      break;
    }
    if (++i == size) i = 0;
    if (++batch == 1024) {
      batch = 0;
      population.clock.Advance(absl::Microseconds(100));
    }
  }
  state.SetItemsProcessed(state.iterations());
}
// shard_affine:0: both threads draw from all sessions (random shards).
// shard_affine:1: each thread drives the sessions of its own shards, as a
// host that routes connections to threads by shard would.
BENCHMARK(BM_Heartbeat)
    ->ArgNames({"sessions", "shard_affine"})
    ->Args({10'000, 0})
    ->Args({1'000'000, 0});
BENCHMARK(BM_Heartbeat)
    ->ArgNames({"sessions", "shard_affine"})
    ->ArgsProduct({{10'000, 1'000'000}, {0, 1}})
    ->Threads(2);

// Valid moves only: each pass over the thread's sessions moves every one by
// one cell at the server's current tick, then the clock moves one movement
// tick so the next pass is allowed.
void BM_Move(benchmark::State& state) {
  Population& population = EventPopulation(state.range(0));
  const auto [remotes, size] = Partition(population, state);
  const absl::Duration movement_tick =
      population.manager->options().rules.world.movement_tick;
  auto next_pass = [&]() {
    population.clock.Advance(movement_tick);
    return population.manager->CurrentTick();
  };
  int64_t tick = next_pass();
  int32_t dx = 1;
  int64_t rejected = 0;
  size_t i = 0;
  for (auto _ : state) {
    absl::StatusOr<MoveOutcome> outcome =
        population.manager->ApplyMove(remotes[i], MoveInput{tick, dx, 0});
    if (!outcome.ok() || !outcome->result.accepted()) ++rejected;
    if (++i == size) {
      i = 0;
      tick = next_pass();
      dx = -dx;
    }
  }
  if (rejected > 0) state.SkipWithError("a move was rejected");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Move)
    ->ArgNames({"sessions", "shard_affine"})
    ->Args({10'000, 0})
    ->Args({1'000'000, 0});

// The same events through ApplyInputs, in batches of 256 as the gateway link
// delivers them: heartbeats, then valid moves (one pass per movement tick).
constexpr size_t kLinkBatch = 256;

void BM_HeartbeatBatch(benchmark::State& state) {
  Population& population = EventPopulation(state.range(0));
  const auto [remotes, size] = Partition(population, state);
  std::vector<PeerInput> inputs(kLinkBatch);
  std::vector<PeerInputResult> results(kLinkBatch);
  size_t i = 0;
  for (auto _ : state) {
    for (PeerInput& input : inputs) {
      input.remote = remotes[i];
      if (++i == size) i = 0;
    }
    population.manager->ApplyInputs(inputs, absl::MakeSpan(results));
    for (const PeerInputResult& result : results) {
      if (!result.status.ok()) state.SkipWithError("heartbeat refused");
    }
    population.clock.Advance(absl::Microseconds(25));
  }
  state.SetItemsProcessed(state.iterations() * kLinkBatch);
}
BENCHMARK(BM_HeartbeatBatch)
    ->ArgNames({"sessions", "shard_affine"})
    ->Args({10'000, 0})
    ->Args({1'000'000, 0});

void BM_MoveBatch(benchmark::State& state) {
  Population& population = EventPopulation(state.range(0));
  const auto [remotes, size] = Partition(population, state);
  const absl::Duration movement_tick =
      population.manager->options().rules.world.movement_tick;
  population.clock.Advance(movement_tick);
  int64_t tick = population.manager->CurrentTick();
  int32_t dx = 1;
  int64_t rejected = 0;
  std::vector<PeerInput> inputs(kLinkBatch);
  std::vector<PeerInputResult> results(kLinkBatch);
  size_t i = 0;
  for (auto _ : state) {
    // A batch never spans two passes, so no session moves twice in a tick.
    const size_t batch = std::min(kLinkBatch, size - i);
    for (size_t k = 0; k < batch; ++k) {
      inputs[k] = {remotes[i + k], PeerInput::Kind::kMove, {tick, dx, 0}};
    }
    population.manager->ApplyInputs(absl::MakeConstSpan(inputs.data(), batch),
                                    absl::MakeSpan(results.data(), batch));
    for (size_t k = 0; k < batch; ++k) {
      if (!results[k].status.ok() || !results[k].move.accepted()) ++rejected;
    }
    state.SetItemsProcessed(state.items_processed() + batch);
    i += batch;
    if (i == size) {
      i = 0;
      population.clock.Advance(movement_tick);
      tick = population.manager->CurrentTick();
      dx = -dx;
    }
  }
  if (rejected > 0) state.SkipWithError("a move was rejected");
}
BENCHMARK(BM_MoveBatch)
    ->ArgNames({"sessions", "shard_affine"})
    ->Args({10'000, 0})
    ->Args({1'000'000, 0});
BENCHMARK(BM_Move)
    ->ArgNames({"sessions", "shard_affine"})
    ->ArgsProduct({{10'000, 1'000'000}, {0, 1}})
    ->Threads(2);

// --- Per-event cost with many armed deadlines
//
// A hot set of 1k sessions (a random sample) receives heartbeats while the
// other N - 1k sessions sit Active with their deadlines armed. Compare N = 1k
// with N = 1M.

void BM_HotSetHeartbeat(benchmark::State& state) {
  const size_t count = state.range(0);
  Population& population = EventPopulation(count);
  std::vector<RemoteIdentity> hot;
  for (int64_t k = 0; k < kHotSet; ++k) {
    hot.push_back(population.remotes[k * (count / kHotSet)]);
  }
  size_t i = 0;
  int batch = 0;
  for (auto _ : state) {
    if (!population.manager->OnHeartbeat(hot[i]).ok()) {
      state.SkipWithError("heartbeat refused");
      break;
    }
    if (++i == hot.size()) i = 0;
    if (++batch == 1024) {
      batch = 0;
      population.clock.Advance(absl::Microseconds(100));
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["armed"] = static_cast<double>(count);
}
BENCHMARK(BM_HotSetHeartbeat)->Arg(1'000)->Arg(1'000'000);

// The same hot set through ApplyInputs in link-sized batches.
void BM_HotSetHeartbeatBatch(benchmark::State& state) {
  const size_t count = state.range(0);
  Population& population = EventPopulation(count);
  std::vector<PeerInput> inputs;
  for (int64_t k = 0; k < kHotSet; ++k) {
    inputs.push_back({population.remotes[k * (count / kHotSet)]});
  }
  std::vector<PeerInputResult> results(inputs.size());
  for (auto _ : state) {
    for (size_t begin = 0; begin < inputs.size(); begin += kLinkBatch) {
      const size_t batch = std::min(kLinkBatch, inputs.size() - begin);
      population.manager->ApplyInputs(
          absl::MakeConstSpan(inputs.data() + begin, batch),
          absl::MakeSpan(results.data() + begin, batch));
    }
    for (const PeerInputResult& result : results) {
      if (!result.status.ok()) state.SkipWithError("heartbeat refused");
    }
    population.clock.Advance(absl::Microseconds(100));
  }
  state.SetItemsProcessed(state.iterations() * inputs.size());
  state.counters["armed"] = static_cast<double>(count);
}
BENCHMARK(BM_HotSetHeartbeatBatch)->Arg(1'000)->Arg(1'000'000);

// Diagnostic: the same, but the hot set is the first 1k sessions created, so
// their records sit next to each other in memory. If this stays close to
// N = 1k while the random hot set does not, the cost of a large N is where
// the hot sessions lie in memory (TLB reach, cache lines), not the number of
// armed deadlines.
void BM_HotSetHeartbeatClustered(benchmark::State& state) {
  const size_t count = state.range(0);
  Population& population = EventPopulation(count);
  std::vector<RemoteIdentity> hot;
  for (int64_t k = 0; k < kHotSet; ++k) hot.push_back(RemoteFor(k));
  size_t i = 0;
  int batch = 0;
  for (auto _ : state) {
    if (!population.manager->OnHeartbeat(hot[i]).ok()) {
      state.SkipWithError("heartbeat refused");
      break;
    }
    if (++i == hot.size()) i = 0;
    if (++batch == 1024) {
      batch = 0;
      population.clock.Advance(absl::Microseconds(100));
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["armed"] = static_cast<double>(count);
}
BENCHMARK(BM_HotSetHeartbeatClustered)->Arg(1'000)->Arg(1'000'000);

// --- AdvanceTime: proportional to what expires, not to what is held
//
// `held` sessions sit Active with deadlines a minute away (inside one turn of
// the default wheel: 2048 slots x 32 ms). Before each call, `expiring` new
// connections are opened whose login deadline is one timer resolution away;
// the timed call closes exactly those. The clock moves one resolution per
// call, so a population serves a bounded number of calls and is rebuilt
// (untimed) before the held sessions' own deadlines could come due.

constexpr int64_t kAdvanceCalls = 400;

MultiSessionOptions ExpiryOptions() {
  MultiSessionOptions options;  // Default wheel: 32 ms x 2048 slots.
  options.policy.login_timeout = options.timer_resolution;
  options.policy.suspect_after = absl::Seconds(60);
  options.policy.liveness_timeout = absl::Seconds(120);
  return options;
}

struct ExpiryPopulation {
  std::unique_ptr<Population> population;
  absl::Time held_due;  // The earliest deadline of the held sessions.
};

Population& ExpiryPopulationFor(size_t held) {
  static auto* populations = new std::map<size_t, ExpiryPopulation>();
  ExpiryPopulation& entry = (*populations)[held];
  const MultiSessionOptions options = ExpiryOptions();
  const absl::Duration needed =
      options.timer_resolution * (kAdvanceCalls + 8) + absl::Seconds(1);
  if (entry.population == nullptr ||
      entry.population->clock.Now() + needed >= entry.held_due) {
    entry.population.reset();
    malloc_trim(0);
    entry.population = Populate(held, options, /*keep_remotes=*/false);
    entry.held_due =
        entry.population->clock.Now() + options.policy.suspect_after;
    // Each login right after its connect leaves the connect's login deadline
    // in the wheel (the event path never touches the wheel); the entry is
    // corrected when it comes due, one resolution later. Let that happen
    // here, untimed: BM_AdvanceTimeStaleEntries measures it.
    entry.population->clock.Advance(2 * options.timer_resolution);
    Check(entry.population->manager->AdvanceTime().empty(),
          "nothing expires at set-up");
  }
  return *entry.population;
}

void BM_AdvanceTime(benchmark::State& state) {
  const size_t held = state.range(0);
  const int64_t expiring = state.range(1);
  Population& population = ExpiryPopulationFor(held);
  const absl::Duration resolution =
      population.manager->options().timer_resolution;
  int64_t fired = 0;
  for (auto _ : state) {
    if (expiring > 0) {
      state.PauseTiming();
      for (int64_t k = 0; k < expiring; ++k) {
        Check(population.manager
                  ->OnTransportConnected(RemoteFor(population.next_remote++))
                  .ok(),
              "connect");
      }
      population.clock.Advance(resolution);
      state.ResumeTiming();
    } else {
      population.clock.Advance(resolution);
    }
    fired += static_cast<int64_t>(population.manager->AdvanceTime().size());
  }
  if (fired != expiring * state.iterations()) {
    state.SkipWithError("AdvanceTime fired a different number of deadlines");
  }
  state.counters["held"] = static_cast<double>(held);
  state.counters["fired_per_call"] =
      static_cast<double>(fired) / state.iterations();
  state.SetItemsProcessed(fired);
}
BENCHMARK(BM_AdvanceTime)
    ->ArgNames({"held", "expiring"})
    ->Args({10'000, 1'000})
    ->Args({1'000'000, 1'000})
    ->Args({10'000, 0})
    ->Args({1'000'000, 0})
    ->Iterations(kAdvanceCalls)
    ->Unit(benchmark::kMicrosecond);

// The lazy re-arm: `held` sessions logged in right after connecting, so each
// still has its login deadline (one resolution away) in the wheel. The timed
// call finds them due, sees the later deadline and re-arms them, firing
// nothing. Paid once per session per stale entry, when it comes due.
void BM_AdvanceTimeStaleEntries(benchmark::State& state) {
  const size_t held = state.range(0);
  const MultiSessionOptions options = ExpiryOptions();
  int64_t corrected = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::unique_ptr<Population> population =
        Populate(held, options, /*keep_remotes=*/false);
    population->clock.Advance(2 * options.timer_resolution);
    state.ResumeTiming();
    const size_t fired = population->manager->AdvanceTime().size();
    state.PauseTiming();
    Check(fired == 0, "nothing expires");
    corrected += static_cast<int64_t>(held);
    population.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(corrected);
}
BENCHMARK(BM_AdvanceTimeStaleEntries)
    ->Arg(10'000)
    ->Arg(1'000'000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace gss

BENCHMARK_MAIN();
