#!/usr/bin/env bash
# CPU per heartbeat of the two server processes: N UDP idlers (loadgen) ping
# every HB against a fresh session_service + gateway on loopback; prints CPU
# per ping of each process and, when `perf` works, context switches and
# system calls per ping (less noisy than CPU time on a shared machine).
# Usage: tests/bench/idle_cost.sh [LABEL]
# Env: BUILD (build/release), N (20000), HB (2s: N/HB pings per second),
#      WINDOW (10, seconds measured), GW_FLAGS, SVC_FLAGS (extra flags),
#      PROFILE (a directory: also records `perf record -g` of each process
#      there, as gw.perf and svc.perf).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build/release}
N=${N:-20000}
HB=${HB:-2s}
WINDOW=${WINDOW:-10}
LABEL=${1:-idle}
WORK=$(mktemp -d /tmp/gss_idle.XXXXXX)
ulimit -n "$(ulimit -Hn)"

"$BUILD/session_service/session_service" --link_address=127.0.0.1:0 \
  --ops_address=127.0.0.1:0 --ops_auth=none --metrics_address= \
  --port_file="$WORK/svc.ports" \
  ${SVC_FLAGS:-} >"$WORK/svc.log" 2>&1 &
SVC=$!
trap 'kill -KILL $SVC ${GW:-} 2>/dev/null || true' EXIT
for _ in $(seq 100); do [[ -s $WORK/svc.ports ]] && break; sleep 0.1; done
[[ -s $WORK/svc.ports ]] || { cat "$WORK/svc.log" >&2; exit 1; }
LINK=$(sed -n 's/^link=//p' "$WORK/svc.ports")
"$BUILD/gateway/gateway" --game_address=127.0.0.1:0 \
  --service_address=127.0.0.1:"$LINK" --metrics_address= --max_peers=250000 \
  --port_file="$WORK/gw.ports" ${GW_FLAGS:-} >"$WORK/gw.log" 2>&1 &
GW=$!
for _ in $(seq 100); do [[ -s $WORK/gw.ports ]] && break; sleep 0.1; done
[[ -s $WORK/gw.ports ]] || { cat "$WORK/gw.log" >&2; exit 1; }
GAME=$(sed -n 's/^game=//p' "$WORK/gw.ports")
sleep 1

# One UDP socket per player: split over loadgen processes under RLIMIT_NOFILE.
PER=$(( $(ulimit -n) - 1000 ))
left=$N
i=0
PIDS=()
while (( left > 0 )); do
  n=$(( left < PER ? left : PER ))
  "$BUILD/clients/loadgen/loadgen" --target=127.0.0.1:"$GAME" --transport=udp \
    --players="$n" --rate=0 --ramp=4000 --heartbeat="$HB" \
    --duration="$((WINDOW + 12))s" --login_timeout=60s --name_prefix="idle$i" \
    --mix=movers=0,shooters=0,idlers=100,vanish=0,resume=0,malformed=0 \
    --json >"$WORK/lg$i.json" 2>"$WORK/lg$i.log" &
  PIDS+=($!)
  left=$(( left - n ))
  i=$(( i + 1 ))
done
for ((j = 0; j < i; ++j)); do
  for _ in $(seq 1200); do
    grep -q '^\[loadgen run' "$WORK/lg$j.log" && break
    sleep 0.1
  done
done
sleep 4

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
STAT=0
if perf stat -e context-switches true >/dev/null 2>&1; then
  STAT=1
  for p in "$GW:gw" "$SVC:svc"; do
    perf stat -x, -e context-switches,raw_syscalls:sys_enter -p "${p%%:*}" \
      -o "$WORK/${p##*:}.stat" -- sleep "$WINDOW" >/dev/null 2>&1 &
  done
fi
if [[ -n ${PROFILE:-} ]]; then
  mkdir -p "$PROFILE"
  for p in "$GW:gw" "$SVC:svc"; do
    perf record -g -F 2000 -p "${p%%:*}" -o "$PROFILE/${p##*:}.perf" \
      -- sleep "$WINDOW" >/dev/null 2>&1 &
  done
fi
S0=$(ticks $SVC); G0=$(ticks $GW); T0=$(date +%s.%N)
sleep "$WINDOW"
S1=$(ticks $SVC); G1=$(ticks $GW); T1=$(date +%s.%N)
sleep 0.5
for pid in "${PIDS[@]}"; do wait "$pid" || true; done

python3 - "$WORK" "$LABEL" "$STAT" "$(getconf CLK_TCK)" \
  "$S0" "$S1" "$G0" "$G1" "$T0" "$T1" <<'PY'
import glob, json, sys
work, label, stat, tck = sys.argv[1], sys.argv[2], sys.argv[3] == "1", float(sys.argv[4])
s0, s1, g0, g1, t0, t1 = map(float, sys.argv[5:])
t = t1 - t0
rate = logins = 0
for f in glob.glob(work + "/lg*.json"):
    d = json.load(open(f))
    logins += d["logins_ok"]
    rate += d["pongs_per_second"]
svc, gw = (s1 - s0) / tck / t, (g1 - g0) / tck / t
line = ("%s: %d sessions, %.0f pings/s; CPU service %.1f%% + gateway %.1f%% = "
        "%.1f%% of one core; per ping: service %.1f us, gateway %.1f us"
        % (label, logins, rate, 100 * svc, 100 * gw, 100 * (svc + gw),
           1e6 * svc / rate, 1e6 * gw / rate))
if stat:
    def read(name):
        out = {}
        for row in open("%s/%s.stat" % (work, name)):
            p = row.strip().split(",")
            if len(p) > 3 and p[0][:1].isdigit():
                out[p[2]] = float(p[0])
        return out
    n = rate * t
    g, s = read("gw"), read("svc")
    line += ("; context switches per ping: service %.2f, gateway %.2f; "
             "system calls per ping: service %.2f, gateway %.2f"
             % (s["context-switches"] / n, g["context-switches"] / n,
                s["raw_syscalls:sys_enter"] / n, g["raw_syscalls:sys_enter"] / n))
print(line)
PY
