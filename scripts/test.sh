#!/usr/bin/env bash
# Installs what is missing, builds, checks the sources (clang-format,
# clang-tidy, clang's lock analysis) and runs every test: the optimised build
# first, then all of them again under AddressSanitizer and UBSan (the
# end-to-end tests then start sanitized processes too).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
root=$(gss_root)
gss_install_packages

gss_build "$root/build/release" -DCMAKE_BUILD_TYPE=RelWithDebInfo
# Formatting, clang-tidy and the lock annotations (about 4 minutes on 2
# cores), before the tests.
"$root/scripts/check_sources.sh" "$root/build/release"
ctest --test-dir "$root/build/release" --output-on-failure -j2 --timeout 600

gss_build "$root/build/asan" -DCMAKE_BUILD_TYPE=Debug -DGSS_SANITIZE=ON \
  -DGSS_BUILD_BENCHMARKS=OFF
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$root/build/asan" --output-on-failure -j2 --timeout 900
