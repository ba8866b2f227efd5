#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs the project.
# The session service and the gateway are not built yet; until they are, this
# runs what exists: the session core's benchmark at 10k managed sessions, a
# quick look at what one core of this machine does through the core.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
root=$(gss_root)
gss_install_packages
gss_build "$root/build/release" -DCMAKE_BUILD_TYPE=RelWithDebInfo
exec "$root/build/release/common/multi_session_manager_benchmark" \
  --benchmark_filter='/10000' --benchmark_min_time=0.2 "$@"
