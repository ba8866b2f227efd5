#!/usr/bin/env bash
# The main job: installs what is missing, builds, then runs the session
# service and its gateway on the embedded defaults (dev logins, game port 7777
# over UDP and TCP, ops gRPC on 7781, metrics on 9464 and 9465) until Ctrl-C.
# The ops API checks tokens from build/dev/ops.tokens, made on the first run
# (an admin and a reader token; sessionctl --token_file
# build/dev/admin.token). Extra arguments go to the session service, e.g.
# --authenticator=jwt, or --ops_auth=none to leave the ops API open.
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

# Dev ops tokens, unless the arguments configure the ops API themselves.
ops_flags=()
if [[ " $* " != *" --ops_auth"* && " $* " != *" --ops_tokens_file"* ]]; then
  dev="$root/build/dev"
  if [[ ! -s "$dev/ops.tokens" ]]; then
    mkdir -p "$dev"
    (
      umask 077
      admin=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
      reader=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
      printf '# role principal token (docs/operations.md)\nadmin dev-admin %s\nreader dev-reader %s\n' \
        "$admin" "$reader" >"$dev/ops.tokens"
      echo "$admin" >"$dev/admin.token"
      echo "$reader" >"$dev/reader.token"
    )
  fi
  ops_flags=(--ops_tokens_file="$dev/ops.tokens")
  echo "ops API tokens: $dev/ops.tokens (sessionctl --token_file $dev/admin.token info)"
fi

"$bin/session_service/session_service" "${ops_flags[@]}" "$@" &
service_pid=$!
"$bin/gateway/gateway" &
gateway_pid=$!
echo "running: session_service (pid $service_pid) and gateway (pid $gateway_pid); Ctrl-C stops both"
# Whichever ends first ends the job.
wait -n "$service_pid" "$gateway_pid"
