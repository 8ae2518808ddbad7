#!/usr/bin/env bash
# Idle floor and per-thread CPU of the server as shipped (issue 19): GhostChat.Server with embedded TURN configured
# as bench/turn.sh configures it, no DOTNET_* switch. After a warm-up (one uclient step of 10,000 messages, so the
# JIT's tiers have settled as in bench/turn.sh), per thread: CPU ms (utime+stime from /proc/PID/task/*/stat) and
# wake-ups (voluntary context switches) over a window with no traffic at all, then (STEP set) over one uclient step.
# Before the window, one GET /api/ice (as every browser makes before it connects).
#
#   bench/turn-idle.sh                    60 s idle window
#   SECONDS_IDLE=30 STEP="10 500 20" bench/turn-idle.sh     30 s idle, then the 500 msg/s step of bench/turn.sh
#   REPEAT=5 STEP="10 500 20" bench/turn-idle.sh            the step 5 times in a row (does the JIT's share fade?)
#   EXTRA_ENV='DOTNET_TieredCompilation=0' bench/turn-idle.sh   an A/B variant (not as shipped: says so)
#   GHOSTCHAT_SERVER_DLL=/path/GhostChat.Server.dll NO_BUILD=1 bench/turn-idle.sh
#
# The server binds 127.0.0.1 and is stopped by its PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=bench/turn/common.sh
. "$ROOT/bench/turn/common.sh"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
WORK=$(mktemp -d /tmp/ghostchat-turn-idle.XXXXXX)
SERVER_DLL=${GHOSTCHAT_SERVER_DLL:-$ROOT/src/GhostChat.Server/bin/Release/net10.0/GhostChat.Server.dll}
SECONDS_IDLE=${SECONDS_IDLE:-60}
SECRET=benchsecret-0123456789
# TURN takes one port for UDP and TCP: a UDP port whose TCP twin is free too.
read -r OURS_PORT PEER_PORT HTTP_PORT < <(python3 -c '
import socket
while True:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0)); port = u.getsockname()[1]
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", port)); break
    except OSError:
        u.close(); t.close()
p = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); p.bind(("127.0.0.1", 0))
h = socket.socket(); h.bind(("127.0.0.1", 0))
print(port, p.getsockname()[1], h.getsockname()[1])')
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
if [[ "${NO_BUILD:-0}" != 1 ]]; then
  dotnet build src/GhostChat.Server -c Release -v q -nologo -p:GhostChatSkipWebBuild=true >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
fi
COMMIT=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src bench 2>/dev/null || echo "+dirty")
read -r -a EXTRA <<<"${EXTRA_ENV:-}"
taskset -c 0 env "${EXTRA[@]}" $(turn_bench_env "$OURS_PORT" "$SECRET") \
  dotnet "$SERVER_DLL" --urls "http://127.0.0.1:$HTTP_PORT" >"$WORK/ours.log" 2>&1 &
OURS_PID=$!; PIDS+=("$OURS_PID"); START=$(date +%s.%N)
taskset -c 1 turnutils_peer -L 127.0.0.1 -p "$PEER_PORT" >/dev/null 2>&1 &
PIDS+=("$!")
wait_turn_ready "$OURS_PID" "$OURS_PORT"
READY_TICKS=$(awk '{print $14 + $15}' /proc/$OURS_PID/stat); READY=$(date +%s.%N)
uclient() { taskset -c 1 timeout 300 turnutils_uclient -W $SECRET -u bench -e 127.0.0.1 -r "$PEER_PORT" -X -c -m "$1" -n "$2" -l 1000 -z "$3" -p "$OURS_PORT" 127.0.0.1 2>&1 | grep -o 'Total lost packets.*' | tail -1 || true; }

# thread-id name utime+stime voluntary-switches, one line per live thread
snapshot() {
  local t
  for t in /proc/"$OURS_PID"/task/*; do
    [[ -r $t/stat ]] || continue
    printf '%s\t%s\t%s\t%s\n' "${t##*/}" "$(tr ' ' '_' <"$t/comm")" \
      "$(sed 's/.*) //' "$t/stat" 2>/dev/null | awk '{print $12 + $13}')" \
      "$(awk '/^voluntary_ctxt_switches/ {print $2}' "$t/status" 2>/dev/null)"
  done
}
# A sampler (on CPU 1) appends a snapshot every 100 ms while a window runs, so threads that start or end inside the
# window are counted too (a thread's last sample is its total; one that started inside the window counts from 0).
sample_start() { ( while :; do snapshot; sleep 0.1; done >"$WORK/$1" ) & SAMPLER=$!; taskset -pc 1 "$SAMPLER" >/dev/null; }
sample_stop() { kill "$SAMPLER"; wait "$SAMPLER" 2>/dev/null || true; }
# report FIRST SAMPLES SECONDS LABEL → per thread name (threads of one name summed): CPU ms/s, wake-ups/s
report() {
  echo
  echo "$4 ($3 s, $(date -u '+%H:%M:%S') UTC, load:$(uptime | sed 's/.*load average://'))"
  awk -F'\t' -v s="$3" -v hz="$(getconf CLK_TCK)" '
    FNR == NR { t0[$1] = $3; w0[$1] = $4; next }
    { name[$1] = $2; t1[$1] = $3; w1[$1] = $4 }
    END {
      for (id in t1) {
        n = name[id]; c = t1[id] - t0[id]; w = w1[id] - w0[id]
        if (!(id in t0)) { n = n " [started in window]" }
        cpu[n] += c; wk[n] += w; cnt[n]++; tc += c; tw += w
      }
      printf "| thread (count) | CPU ms/s | wake-ups/s |\n|---|--:|--:|\n"
      for (n in cpu) if (cpu[n] > 0 || wk[n] > 0) printf "| %s (%d) | %.2f | %.1f |\n", n, cnt[n], cpu[n] * 1000 / hz / s, wk[n] / s | "sort -t\"|\" -k3 -gr"
      close("sort -t\"|\" -k3 -gr")
      printf "| **threads above** | **%.2f** | **%.1f** |\n", tc * 1000 / hz / s, tw / s
    }' "$1" "$2"
}
whole() { awk '{print $14 + $15}' /proc/$OURS_PID/stat; }

echo "# GhostChat.Server (embedded TURN as bench/turn.sh configures it) at $COMMIT, PID $OURS_PID, pinned to CPU 0${EXTRA_ENV:+; NOT as shipped: $EXTRA_ENV}"
echo "# DOTNET_* in its environment: $(tr '\0' '\n' </proc/$OURS_PID/environ | grep -o '^DOTNET_[A-Za-z_]*' | tr '\n' ' ' || true)"
echo "# start: $(awk -v t="$READY_TICKS" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%d", t*1000/hz}') ms of CPU and $(awk -v a="$START" -v b="$READY" 'BEGIN{printf "%.1f", b-a}') s until TURN answered a Binding"
echo "# warm-up: uclient 10 × 1000 every 5 ms: $(uclient 10 1000 5)"
# Every browser asks /api/ice before it connects: a server in use has served it (and made its rate limiter).
echo "# GET /api/ice: HTTP $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/api/ice")"
sleep 10 # the JIT's background tier-up and the sessions' last timers after the warm-up
snapshot >"$WORK/a"; w0=$(whole); sample_start idle
sleep "$SECONDS_IDLE"
sample_stop; w1=$(whole)
report "$WORK/a" "$WORK/idle" "$SECONDS_IDLE" "Idle, no traffic"
echo "whole process, /proc/PID/stat: $(awk -v t=$((w1 - w0)) -v hz="$(getconf CLK_TCK)" -v s="$SECONDS_IDLE" 'BEGIN{printf "%.2f", t*1000/hz/s}') CPU ms/s"
if [[ -n "${STEP:-}" ]]; then
  read -r m n z <<<"$STEP"
  for ((r = 1; r <= ${REPEAT:-1}; r++)); do
    snapshot >"$WORK/c"; w0=$(whole); t0=$(date +%s.%N); sample_start "step$r"
    res=$(uclient "$m" "$n" "$z")
    sample_stop; w1=$(whole); t1=$(date +%s.%N)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
    report "$WORK/c" "$WORK/step$r" "$secs" "Step $r of ${REPEAT:-1}: uclient $m × $n every $z ms ($res)"
    echo "whole process, /proc/PID/stat: $(awk -v t=$((w1 - w0)) -v hz="$(getconf CLK_TCK)" -v s="$secs" 'BEGIN{printf "%.2f", t*1000/hz/s}') CPU ms/s"
  done
fi
echo "# Logs in $WORK."
