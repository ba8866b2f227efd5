#!/usr/bin/env bash
# End-to-end benchmark, side by side in one run on loopback: (a) raw UDP echo,
# (b) raw gRPC bidi echo batched like the gateway link, (c) loadgen -> gateway
# -> session_service -> result, and the idle cost of many heartbeating sessions.
# Usage: tests/bench/run_bench.sh [OUT.md]
# Env: BUILD (build/release), DURATION (10, seconds per throughput run),
#      PLAYERS (2000, players of the throughput runs), RATE (100, inputs/s
#      per player offered in the max-rate run), IDLE_N (100000),
#      IDLE_WINDOW (20, seconds of CPU measurement).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build/release}
DURATION=${DURATION:-10}
PLAYERS=${PLAYERS:-2000}
RATE=${RATE:-100}
IDLE_N=${IDLE_N:-100000}
IDLE_WINDOW=${IDLE_WINDOW:-20}
OUT_MD=${1:-}
WORK=$(mktemp -d /tmp/gss_bench.XXXXXX)
SVC=$BUILD/session_service/session_service
GW=$BUILD/gateway/gateway
LOADGEN=$BUILD/clients/loadgen/loadgen
UDP_ECHO=$BUILD/tests/bench/udp_echo
GRPC_ECHO=$BUILD/tests/bench/grpc_echo
for bin in "$SVC" "$GW" "$LOADGEN" "$UDP_ECHO" "$GRPC_ECHO"; do
  [[ -x $bin ]] || { echo "missing $bin: build it first" >&2; exit 1; }
done
# One descriptor per TCP peer in the gateway, per UDP player in loadgen.
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
CLK_TCK=$(getconf CLK_TCK)

SVC_PID=""
GW_PID=""
cleanup() {
  for pid in $GW_PID $SVC_PID; do kill -KILL "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

log() { echo "[bench] $*" >&2; }

wait_file() {
  for _ in $(seq 200); do [[ -s $1 ]] && return 0; sleep 0.1; done
  echo "timed out waiting for $1" >&2; exit 1
}

start_cluster() {  # $1: label
  local dir=$WORK/$1
  mkdir -p "$dir"
  # The ops API is not measured here: it is left open (loopback only).
  "$SVC" --link_address=127.0.0.1:0 --ops_address=127.0.0.1:0 --ops_auth=none \
    --metrics_address= --port_file="$dir/svc.ports" >"$dir/svc.log" 2>&1 &
  SVC_PID=$!
  wait_file "$dir/svc.ports"
  local link
  link=$(sed -n 's/^link=//p' "$dir/svc.ports")
  "$GW" --game_address=127.0.0.1:0 \
    --service_address=127.0.0.1:"$link" --metrics_address= \
    --max_peers=250000 --port_file="$dir/gw.ports" >"$dir/gw.log" 2>&1 &
  GW_PID=$!
  wait_file "$dir/gw.ports"
  GAME_PORT=$(sed -n 's/^game=//p' "$dir/gw.ports")
  OPS_PORT=$(sed -n 's/^ops=//p' "$dir/svc.ports")
  sleep 1  # The link attaches.
}

stop_cluster() {
  kill -TERM "$GW_PID" 2>/dev/null || true
  wait "$GW_PID" 2>/dev/null || true
  kill -TERM "$SVC_PID" 2>/dev/null || true
  wait "$SVC_PID" 2>/dev/null || true
  GW_PID=""
  SVC_PID=""
}

# json FILE KEY: a top-level (or a.b) number from a one-line JSON report.
json() {
  python3 -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v=v[k]
print(v)' "$1" "$2"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

log "work dir $WORK"

# (a) raw UDP echo with as many requests in flight as players in (c).
log "(a) udp_echo"
"$UDP_ECHO" --inflight="$PLAYERS" --sockets=256 --duration="${DURATION}s" \
  --json >"$WORK/a.json"
A_RATE=$(json "$WORK/a.json" round_trips_per_second)

# (b) raw gRPC bidi echo, batches of 256.
log "(b) grpc_echo"
"$GRPC_ECHO" --batch=256 --duration="${DURATION}s" --json >"$WORK/b.json"
B_RATE=$(json "$WORK/b.json" events_per_second)

# (c1) full path at maximum rate: movers only, offered PLAYERS x RATE/s.
log "(c) full path, max rate"
start_cluster c1
"$LOADGEN" --target=127.0.0.1:"$GAME_PORT" --transport=udp \
  --players="$PLAYERS" --rate="$RATE" --ramp=5000 --duration="${DURATION}s" \
  --mix=movers=100,shooters=0,idlers=0,vanish=0,resume=0,malformed=0 \
  --progress=false --json >"$WORK/c1.json" 2>"$WORK/c1.log"
stop_cluster
C_MAX=$(json "$WORK/c1.json" inputs_acknowledged_per_second)
C_SENT=$(json "$WORK/c1.json" inputs_sent_per_second)

# (c2) latency at half the maximum rate.
HALF_RATE=$(python3 -c "print(round($C_MAX / 2 / $PLAYERS, 3))")
log "(c) full path, half rate ($HALF_RATE/s per player)"
start_cluster c2
"$LOADGEN" --target=127.0.0.1:"$GAME_PORT" --transport=udp \
  --players="$PLAYERS" --rate="$HALF_RATE" --ramp=5000 \
  --duration="${DURATION}s" \
  --mix=movers=100,shooters=0,idlers=0,vanish=0,resume=0,malformed=0 \
  --progress=false --json >"$WORK/c2.json" 2>"$WORK/c2.log"
stop_cluster
C2_ACK=$(json "$WORK/c2.json" inputs_acknowledged_per_second)
for q in p50 p90 p99 p999; do
  declare "C2_${q}=$(json "$WORK/c2.json" "latency_us.$q")"
done

# (d) idle: IDLE_N sessions, heartbeat every 10 s.
log "(d) idle: $IDLE_N sessions"
start_cluster d
sleep 1
SVC_RSS0=$(rss_kib "$SVC_PID")
GW_RSS0=$(rss_kib "$GW_PID")
IDLE_RAMP=2000  # Per loadgen process.
LG_DURATION=$((IDLE_WINDOW + 15))
# RLIMIT_NOFILE's hard limit here may be below IDLE_N (one UDP socket per
# player): split the players over several loadgen processes.
PER_LG=$(( $(ulimit -n) - 1000 ))
LG_PIDS=()
left=$IDLE_N
i=0
while (( left > 0 )); do
  n=$(( left < PER_LG ? left : PER_LG ))
  "$LOADGEN" --target=127.0.0.1:"$GAME_PORT" --transport=udp \
    --players="$n" --rate=0 --ramp="$IDLE_RAMP" --heartbeat=10s \
    --duration="${LG_DURATION}s" --login_timeout=60s --name_prefix="idle$i" \
    --mix=movers=0,shooters=0,idlers=100,vanish=0,resume=0,malformed=0 \
    --json >"$WORK/d$i.json" 2>"$WORK/d$i.log" &
  LG_PIDS+=($!)
  left=$(( left - n ))
  i=$(( i + 1 ))
done
LG_COUNT=$i
# The measured window of loadgen starts once every player is logged in; let
# the logins' after-effects settle, then measure over IDLE_WINDOW seconds.
for ((j = 0; j < LG_COUNT; ++j)); do
  for _ in $(seq 1200); do
    grep -q '^\[loadgen run' "$WORK/d$j.log" && break
    kill -0 "${LG_PIDS[$j]}" 2>/dev/null || break
    sleep 0.1
  done
done
sleep 5
S0=$(cpu_ticks "$SVC_PID"); G0=$(cpu_ticks "$GW_PID"); T0=$(date +%s.%N)
sleep "$IDLE_WINDOW"
S1=$(cpu_ticks "$SVC_PID"); G1=$(cpu_ticks "$GW_PID"); T1=$(date +%s.%N)
SVC_RSS1=$(rss_kib "$SVC_PID")
GW_RSS1=$(rss_kib "$GW_PID")
for pid in "${LG_PIDS[@]}"; do wait "$pid" || true; done
stop_cluster
D_LOGINS=0
for ((j = 0; j < LG_COUNT; ++j)); do
  D_LOGINS=$(( D_LOGINS + $(json "$WORK/d$j.json" logins_ok) ))
done
read -r SVC_CPU GW_CPU < <(python3 -c "
t=$T1-$T0
print(round(100*($S1-$S0)/$CLK_TCK/t,2), round(100*($G1-$G0)/$CLK_TCK/t,2))")

# --- table -------------------------------------------------------------------
TABLE=$(python3 - "$A_RATE" "$B_RATE" "$C_MAX" "$C_SENT" "$HALF_RATE" \
  "$C2_ACK" "$C2_p50" "$C2_p90" "$C2_p99" "$C2_p999" "$D_LOGINS" "$IDLE_N" \
  "$SVC_CPU" "$GW_CPU" "$SVC_RSS0" "$SVC_RSS1" "$GW_RSS0" "$GW_RSS1" \
  "$PLAYERS" "$RATE" "$DURATION" <<'PY'
import sys
(a, b, cmax, csent, half, c2ack, p50, p90, p99, p999, dn, idle_n, scpu, gcpu,
 s0, s1, g0, g1, players, rate, duration) = sys.argv[1:]
a, b, cmax, csent, c2ack = map(float, (a, b, cmax, csent, c2ack))
p50, p90, p99, p999 = map(float, (p50, p90, p99, p999))
dn, idle_n = int(dn), int(idle_n)
scpu, gcpu = float(scpu), float(gcpu)
svc_b = (int(s1) - int(s0)) * 1024 / max(dn, 1)
gw_b = (int(g1) - int(g0)) * 1024 / max(dn, 1)
def verdict(ok): return "met" if ok else "**missed**"
cpu = scpu + gcpu
rows = [
 ("(a) raw UDP echo, %s in flight" % players, "%.0f round trips/s" % a, "baseline", ""),
 ("(b) raw gRPC bidi echo, batches of 256", "%.0f events/s" % b, "baseline", ""),
 ("(c) full path, max rate (offered %s players x %s/s = %.0f/s, sent %.0f/s)"
  % (players, rate, float(players) * float(rate), csent),
  "%.0f acknowledged inputs/s" % cmax,
  "(c) >= 0.5 x (a): (c)/(a) = %.2f; (c)/(b) = %.3f" % (cmax / a, cmax / b),
  verdict(cmax >= 0.5 * a)),
 ("(c) latency at half max (%.0f inputs/s acknowledged)" % c2ack,
  "p50 %.0f us, p90 %.0f us, p99 %.0f us, p99.9 %.0f us" % (p50, p90, p99, p999),
  "p99 <= 1 ms: p99/target = %.2f" % (p99 / 1000), verdict(p99 <= 1000)),
 ("idle: %d sessions (of %d asked), heartbeat 10 s" % (dn, idle_n),
  "service %.1f%% + gateway %.1f%% = %.1f%% of one core" % (scpu, gcpu, cpu),
  "< 25%% of one core: %.2fx target" % (cpu / 25), verdict(cpu < 25 and dn >= 100000)
  if dn >= 100000 else verdict(cpu < 25) + " (at %d, not 100k)" % dn),
 ("idle: RSS per session, service", "%.0f B" % svc_b,
  "<= 1024 B: %.2fx target" % (svc_b / 1024), verdict(svc_b <= 1024)),
 ("idle: RSS per peer, gateway", "%.0f B" % gw_b,
  "<= 512 B: %.2fx target" % (gw_b / 512), verdict(gw_b <= 512)),
]
print("| Case | Measured | Target and ratio | Verdict |")
print("|---|---|---|---|")
for r in rows: print("| %s | %s | %s | %s |" % r)
PY
)
echo "$TABLE"
if [[ -n $OUT_MD ]]; then echo "$TABLE" >"$OUT_MD"; fi
log "reports and logs in $WORK"
