#!/usr/bin/env bash
# Builds the fuzz targets with clang and libFuzzer (plus ASan and UBSan) in
# build/fuzz and fuzzes each for SECONDS, starting from its seed corpus.
# New inputs go to build/fuzz/work/<target>/, never into the repository;
# crashes are written there as crash-* files.
#
#   fuzz/run_fuzzers.sh SECONDS [target...]      (default: every target)
#
# Prints per target: how long it ran (less than SECONDS after a crash), runs, execs/s, coverage and whether it
# crashed. Exits non-zero when any target crashed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"
root=$(gss_root)

if (($# < 1)) || ! [[ $1 =~ ^[0-9]+$ ]]; then
  echo "usage: $0 SECONDS [target...]" >&2
  exit 2
fi
seconds=$1
shift
all_targets=(tcp_frame_fuzzer udp_datagram_fuzzer jwt_login_fuzzer
  session_token_fuzzer link_events_fuzzer)
targets=("$@")
if ((${#targets[@]} == 0)); then targets=("${all_targets[@]}"); fi

# -fsanitize=fuzzer links libclang_rt.fuzzer from libclang-rt-14-dev (which
# clang-14 only recommends); libfuzzer-14-dev is not needed.
if ! command -v clang++-14 >/dev/null ||
  ! [[ -f $(clang++-14 -print-file-name=libclang_rt.fuzzer-x86_64.a) ]]; then
  echo "needs clang-14 with its libFuzzer runtime:" \
    "apt-get install clang-14 libclang-rt-14-dev" >&2
  exit 2
fi

build="$root/build/fuzz"
CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGSS_FUZZ=ON \
  -DGSS_BUILD_BENCHMARKS=OFF -DGSS_BUILD_E2E_TESTS=OFF >/dev/null
cmake --build "$build" -j2 --target "${targets[@]}"

# UBSan findings are crashes too; leaks are reported but the targets hold a
# few deliberate process-lifetime singletons, which LeakSanitizer ignores.
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

failed=0
summary=()
for target in "${targets[@]}"; do
  work="$build/work/$target"
  mkdir -p "$work/corpus" "$work/artifacts"
  log="$work/fuzz.log"
  echo "== $target: fuzzing for ${seconds}s (log: $log)"
  status=0
  started=$SECONDS
  # The first corpus dir receives new inputs; the seeds are only read.
  "$build/fuzz/$target" "$work/corpus" "$root/fuzz/corpus/$target" \
    -max_total_time="$seconds" -artifact_prefix="$work/artifacts/" \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  elapsed=$((SECONDS - started))
  runs=$(grep -oP '^stat::number_of_executed_units:\s*\K\d+' "$log" || echo "?")
  rate=$(grep -oP '^stat::average_exec_per_sec:\s*\K\d+' "$log" || echo "?")
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(grep -oP 'cov: \K\d+' <<<"$last" || echo "?")
  ft=$(grep -oP 'ft: \K\d+' <<<"$last" || echo "?")
  corpus=$(grep -oP 'corp: \K[^ ]+' <<<"$last" || echo "?")
  if ((status == 0)); then
    result="no crash"
  else
    result="CRASH (exit $status): $(ls "$work/artifacts" | tr '\n' ' ')"
    failed=1
  fi
  summary+=("$(printf '%-22s %5ss  runs %-10s %7s exec/s  cov %-5s ft %-6s corpus %-10s %s' \
    "$target" "$elapsed" "$runs" "$rate" "$cov" "$ft" "$corpus" "$result")")
done

echo
printf '%s\n' "${summary[@]}"
exit "$failed"
