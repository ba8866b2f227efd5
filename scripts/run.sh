#!/usr/bin/env bash
# The main job: installs what is missing, builds, then runs the session
# service and its gateway on the embedded defaults (dev logins, game port 7777
# over UDP and TCP, ops gRPC on 7781, metrics on 9464 and 9465) until Ctrl-C.
# Extra arguments go to the session service, e.g. --authenticator=jwt.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
root=$(gss_root)
gss_install_packages
gss_build "$root/build/release" -DCMAKE_BUILD_TYPE=RelWithDebInfo

bin="$root/build/release"
service_pid=""
gateway_pid=""
stop() {
  trap - INT TERM EXIT
  [[ -n "$gateway_pid" ]] && kill -TERM "$gateway_pid" 2>/dev/null || true
  [[ -n "$service_pid" ]] && kill -TERM "$service_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

"$bin/session_service/session_service" "$@" &
service_pid=$!
"$bin/gateway/gateway" &
gateway_pid=$!
echo "running: session_service (pid $service_pid) and gateway (pid $gateway_pid); Ctrl-C stops both"
# Whichever ends first ends the job.
wait -n "$service_pid" "$gateway_pid"
