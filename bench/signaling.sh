#!/usr/bin/env bash
# Signaling benchmark: GhostChat.Server vs the reference PeerJS server (peer@1.0.2), side by side
# on this machine, driven by the same generator (`ghostchat bench signaling`), in one run.
#
#   bench/signaling.sh                      3 runs, medians and ratios (about 5 minutes)
#   RUNS=5 DURATION=10 PAIRS=50 WINDOW=8 bench/signaling.sh   (the defaults: issue 19's measure,
#                                           50 pairs, 8 messages in flight per pair)
#   MESSAGE_BYTES=500                       size of every relayed OFFER/ANSWER frame (default 500,
#                                           issue 19's measure; 3124 is the generator's SDP-sized frame)
#   RATE=50000 bench/signaling.sh           fixed offered load for the latency phase (msg/s; 50000 is
#                                           issue 19's measure: the reference loses messages there,
#                                           which the summary warns about);
#                                           default: RATE_FRACTION (0.25) of the lower saturation
#                                           throughput measured in run 1, the same for every run
#   PIN=0 bench/signaling.sh                no CPU pinning (default: both servers on CPU 0, the
#                                           generator on CPU 1; Node serves on one core anyway)
#   KEEP=1                                  keep the per-run JSON in artifacts/bench/signaling/
#   PHASES=memory bench/signaling.sh        only some phases (comma-separated: throughput, latency,
#                                           memory; default all three); the latency phase alone needs RATE=
#   MODE=cluster bench/signaling.sh         one node vs two nodes sharing Redis (signaling-cluster.sh)
#   PROFILE=1 PHASES=throughput RUNS=1 bench/signaling.sh   where each server's CPU goes at saturation:
#                                           `perf record -g -F 999` of the whole process for 5 s inside the
#                                           measured window, split by bench/perf-split.py into µs per relayed
#                                           message by thread (user / kernel) and by system call
#   GhostChat__Signaling__SocketLoop=true bench/signaling.sh   any GhostChat__* setting in the caller's
#                                           environment reaches the server (the product's own options);
#                                           the table names them after the commit
#
# Per run: both servers start fresh; throughput at saturation (closed loop) for each, latency at
# the fixed rate for each; then both restart fresh and 10,000 idle peers register on each
# (connections/s, and VmRSS from /proc/PID/status before and after). The order of the two servers
# alternates between runs. Every process this script starts is stopped by its PID on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
# MODE=cluster: one node versus two nodes on Redis (bench/signaling-cluster.sh).
if [ "${MODE:-single}" = cluster ]; then exec "$ROOT/bench/signaling-cluster.sh"; fi

RUNS=${RUNS:-3}
PAIRS=${PAIRS:-50}
DURATION=${DURATION:-10}
WINDOW=${WINDOW:-8}
MESSAGE_BYTES=${MESSAGE_BYTES:-500}
IDLE_PEERS=${IDLE_PEERS:-10000}
RATE=${RATE:-}
RATE_FRACTION=${RATE_FRACTION:-0.25}
PIN=${PIN:-1}
PHASES=${PHASES:-throughput,latency,memory}
has_phase() { [[ ",$PHASES," == *",$1,"* ]]; }
for phase in ${PHASES//,/ }; do
  case $phase in throughput | latency | memory) ;; *) printf 'signaling.sh: unknown phase %s (PHASES: throughput, latency, memory)\n' "$phase" >&2; exit 2 ;; esac
done
if has_phase latency && ! has_phase throughput && [ -z "$RATE" ]; then
  printf 'signaling.sh: the latency phase without the throughput phase needs RATE=\n' >&2; exit 2
fi
if [ "${PROFILE:-0}" = 1 ] && ! command -v perf >/dev/null; then
  printf 'signaling.sh: PROFILE=1 needs perf (apt-get install -y linux-perf)\n' >&2; exit 2
fi
ALIVE_MS=60000
EXPIRE_MS=5000

REFERENCE_JS=$ROOT/tests/interop/node_modules/peer/dist/bin/peerjs.js
WORK=$(mktemp -d /tmp/ghostchat-bench-signaling.XXXXXX)
RESULTS=$ROOT/artifacts/bench/signaling
SCRIPT_NAME=signaling.sh
# shellcheck source=bench/signaling/common.sh
. "$ROOT/bench/signaling/common.sh"

cleanup() {
  stop_all
  if [ "${KEEP:-0}" = 1 ]; then mkdir -p "$RESULTS" && cp "$WORK"/*.json "$RESULTS"/ 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- preparation -------------------------------------------------------------------------------
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((IDLE_PEERS + 2 * PAIRS + 256)) ] \
  || die "ulimit -n is $(ulimit -n): too low for $IDLE_PEERS idle peers (raise the hard limit)"

CPUS=$(nproc)
if [ "$PIN" = 1 ] && [ "$CPUS" -ge 2 ] && command -v taskset >/dev/null; then
  SERVER_CPU=(taskset -c 0); GENERATOR_CPU=(taskset -c 1)
else
  SERVER_CPU=(); GENERATOR_CPU=(); PIN=0
fi

build_release
if [ ! -f "$REFERENCE_JS" ]; then
  say "installing the reference (npm ci in tests/interop) …"
  (cd "$ROOT/tests/interop" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
fi

# Both servers get the same settings: key peerjs, path /, alive 60 s, expire 5 s, no id cap in
# reach. Ours also gets its per-IP and per-socket rate limits lifted: every generator socket comes
# from 127.0.0.1 and the throughput phase sends far more than a browser would.
start_ghostchat() { # -> sets GC_PID GC_PORT
  GC_PORT=$(free_port)
  : >"$WORK/ghostchat.log" # emptied here, not by the background job's redirection: the wait below must not see the last server's ready line
  env "${GHOSTCHAT_BENCH_ENV[@]}" GhostChat__Signaling__AliveTimeout=00:01:00 GhostChat__Signaling__ExpireTimeout=00:00:05 \
    "${SERVER_CPU[@]}" dotnet "$SERVER_DLL" --urls "http://127.0.0.1:$GC_PORT" >"$WORK/ghostchat.log" 2>&1 &
  GC_PID=$!
  PIDS+=("$GC_PID")
  wait_for_line "$WORK/ghostchat.log" "GhostChat is running" "$GC_PID"
}
start_reference() { # -> sets REF_PID REF_PORT
  REF_PORT=$(free_port)
  : >"$WORK/reference.log"
  "${SERVER_CPU[@]}" node "$REFERENCE_JS" --port "$REF_PORT" --host 127.0.0.1 --key peerjs --path / \
    --alive_timeout "$ALIVE_MS" --expire_timeout "$EXPIRE_MS" --concurrent_limit 1000000 \
    >"$WORK/reference.log" 2>&1 &
  REF_PID=$!
  PIDS+=("$REF_PID")
  wait_for_line "$WORK/reference.log" "Started PeerServer" "$REF_PID"
}
stop_servers() {
  stop_pid "$GC_PID"; stop_pid "$REF_PID"
  local keep=() pid
  for pid in "${PIDS[@]}"; do [ "$pid" = "$GC_PID" ] || [ "$pid" = "$REF_PID" ] || keep+=("$pid"); done
  PIDS=("${keep[@]}")
}

generator() { # out.json port [options…]
  local out=$1 port=$2; shift 2
  "${GENERATOR_CPU[@]}" dotnet "$CLI_DLL" bench signaling --url "http://127.0.0.1:$port/" --json "$@" >"$out" && return 0
  # A server offered more than it can relay loses messages in the latency phase (the reference at
  # RATE=50000): the run goes on, and summarize.mjs lists the loss under its warnings. Anything
  # else (no report, lost throughput messages or peers) ends the benchmark.
  if [ "$(node -e 'try{const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));const l=r.latency;console.log(l&&!r.throughput&&!r.idle&&l.sent>0&&l.received<l.sent?"loss":"")}catch{console.log("")}' "$out")" = loss ]; then
    say "  the server behind port $port lost messages at this rate (see the warnings)"
    return 0
  fi
  say "generator failed against port $port:"; cat "$out" >&2; die "benchmark run failed"
}


# --- runs --------------------------------------------------------------------------------------
say "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg); pinning: $([ "$PIN" = 1 ] && echo 'servers CPU 0, generator CPU 1' || echo off)"
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u '+%Y-%m-%d %H:%M')
say "runs $RUNS, pairs $PAIRS, window $WINDOW, message $MESSAGE_BYTES B, duration ${DURATION}s, idle peers $IDLE_PEERS"
for run in $(seq "$RUNS"); do
  if [ $((run % 2)) = 1 ]; then ORDER=(reference ghostchat); else ORDER=(ghostchat reference); fi

  if has_phase throughput || has_phase latency; then
  start_ghostchat; start_reference
  for kind in "${ORDER[@]}"; do
    has_phase throughput || break
    port=$([ "$kind" = ghostchat ] && echo "$GC_PORT" || echo "$REF_PORT")
    say "run $run/$RUNS: $kind throughput …"
    pid=$([ "$kind" = ghostchat ] && echo "$GC_PID" || echo "$REF_PID")
    if [ "${PROFILE:-0}" = 1 ]; then
      # The last 5 s of the measured window but ~1 s (the generator connects, warms up for 1 s, then measures DURATION s).
      [ "$DURATION" -ge 8 ] || die "PROFILE=1 needs DURATION ≥ 8"
      (sleep $((DURATION - 5)); perf record -q -F 999 -g -p "$pid" -o "$WORK/perf-run$run-$kind.data" -- sleep 5 >/dev/null 2>&1) &
      PERF_JOB=$!
    fi
    generator "$WORK/run$run-$kind-throughput.json" "$port" --phases throughput --server-pid "$pid" --pairs "$PAIRS" --window "$WINDOW" --message-size "$MESSAGE_BYTES" --duration "$DURATION"
    if [ "${PROFILE:-0}" = 1 ]; then
      wait "$PERF_JOB" || true
      rate=$(json_field "$WORK/run$run-$kind-throughput.json" throughput.messagesPerSecond)
      python3 "$ROOT/bench/perf-split.py" "$WORK/perf-run$run-$kind.data" "$(awk -v r="$rate" 'BEGIN{printf "%d", r * 5}')" \
        "run $run, $kind at $(measured_commit) ($rate msg/s)" message >"$WORK/profile-run$run-$kind.md" || true
    fi
  done
  if [ -z "$RATE" ]; then
    RATE=$(node -e 'const [a,b,f]=process.argv.slice(1).map(Number);console.log(Math.max(10,Math.round(Math.min(a,b)*f/10)*10))' \
      "$(json_field "$WORK/run$run-reference-throughput.json" throughput.messagesPerSecond)" \
      "$(json_field "$WORK/run$run-ghostchat-throughput.json" throughput.messagesPerSecond)" "$RATE_FRACTION")
    say "fixed offered load for the latency phase: $RATE msg/s (${RATE_FRACTION} of the lower saturation throughput)"
  fi
  for kind in "${ORDER[@]}"; do
    has_phase latency || break
    port=$([ "$kind" = ghostchat ] && echo "$GC_PORT" || echo "$REF_PORT")
    say "run $run/$RUNS: $kind latency at $RATE msg/s …"
    generator "$WORK/run$run-$kind-latency.json" "$port" --phases latency --pairs "$PAIRS" --rate "$RATE" --message-size "$MESSAGE_BYTES" --duration "$DURATION"
  done
  stop_servers
  fi

  has_phase memory || continue
  start_ghostchat; start_reference
  for kind in "${ORDER[@]}"; do
    if [ "$kind" = ghostchat ]; then port=$GC_PORT pid=$GC_PID; else port=$REF_PORT pid=$REF_PID; fi
    say "run $run/$RUNS: $kind $IDLE_PEERS idle peers …"
    generator "$WORK/run$run-$kind-idle.json" "$port" --phases idle --idle-peers "$IDLE_PEERS" --server-pid "$pid"
  done
  stop_servers
done

if [ "${PROFILE:-0}" = 1 ]; then cat "$WORK"/profile-*.md; fi
node "$ROOT/bench/signaling/summarize.mjs" "$WORK" "$RUNS" "${RATE:-n/a}" \
  "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))" "$PIN" \
  "$(measured_commit)$(caller_settings)" "$LOAD_AT_START → $(cut -d' ' -f1-3 /proc/loadavg)" "$STARTED–$(date -u +%H:%M) UTC" \
  "$PAIRS pairs, $WINDOW in flight, $MESSAGE_BYTES-byte messages, $IDLE_PEERS idle peers"
