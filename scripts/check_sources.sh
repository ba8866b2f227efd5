#!/usr/bin/env bash
# The source guard rails of the test command, over a configured build tree
# (for its compile_commands.json):
#   1. clang-format: every C++ file is formatted as .clang-format says;
#   2. clang-tidy with .clang-tidy's checks over the project's sources
#      (tests, benchmarks and fuzz targets aside), every finding an error,
#      and clang's -Wthread-safety in the same pass, so that an
#      ABSL_GUARDED_BY or ABSL_EXCLUSIVE_LOCKS_REQUIRED that lies fails
#      (GCC ignores the annotations).
# Usage: scripts/check_sources.sh BUILD_DIR
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:?usage: check_sources.sh BUILD_DIR}
cd "$root"

sources() {
  find common gateway session_service clients process proto tests fuzz \
    -name '*.cc' -o -name '*.h' | sort
}

start=$(date +%s)
echo "check_sources: clang-format"
if ! sources | xargs clang-format --dry-run --Werror; then
  echo "check_sources: run clang-format -i on the files above" >&2
  exit 1
fi

# The sources the programs are made of: what clang-tidy and the lock
# analysis read (headers come in through them, see HeaderFilterRegex).
mapfile -t checked < <(
  find common gateway session_service clients process -name '*.cc' |
    grep -Ev '(_test|_benchmark|test_[a-z_]+|fake_[a-z_]+)\.cc$' | sort)
echo "check_sources: clang-tidy and -Wthread-safety over ${#checked[@]} files"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! printf '%s\n' "${checked[@]}" |
  xargs -P "$(nproc)" -n 1 clang-tidy -p "$build" --quiet \
    --warnings-as-errors='*' \
    --extra-arg=-Wthread-safety --extra-arg=-Werror=thread-safety \
    >"$log" 2>&1; then
  grep -E 'error:|warning:' -A3 "$log" >&2 || cat "$log" >&2
  echo "check_sources: clang-tidy or the lock analysis found the above" >&2
  exit 1
fi
echo "check_sources: clean in $(($(date +%s) - start)) s"
