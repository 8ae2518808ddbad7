#!/usr/bin/env bash
# GC and runtime settings for the signaling server, decided by measurement (issue 19 item 5):
# the same build run under several runtime configurations, one after another, in rounds, each
# driven by the same generator: CPU µs per relayed message at saturation (throughput phase) and
# RSS per idle heartbeating peer (idle phase). A variant is a list of DOTNET_* settings added to
# the server's environment; "shipped" adds none, so it is whatever the project file sets.
#
#   bench/signaling-runtime.sh                 3 rounds of the default variants (about 8 minutes)
#   ROUNDS=1 IDLE_PEERS=5000 DURATION=8 WARMUP=5 bench/signaling-runtime.sh
#   VARIANTS='shipped;DOTNET_gcServer=1' bench/signaling-runtime.sh
#
# Servers pinned to CPU 0, the generator to CPU 1 (as bench/signaling.sh). Variants rotate inside
# each round so that none is always first. Every process started here is stopped by its PID.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
ROUNDS=${ROUNDS:-3}
PAIRS=${PAIRS:-50}
WINDOW=${WINDOW:-8}
MESSAGE_BYTES=${MESSAGE_BYTES:-500}
DURATION=${DURATION:-8}
WARMUP=${WARMUP:-5}   # seconds of load before the measured window: tiered PGO has re-jitted by then
IDLE_PEERS=${IDLE_PEERS:-10000}
VARIANTS=${VARIANTS:-shipped;DOTNET_gcServer=1;DOTNET_gcServer=1 DOTNET_GCDynamicAdaptationMode=0;DOTNET_gcServer=0;DOTNET_gcServer=0 DOTNET_gcConcurrent=0;DOTNET_TieredPGO=0}
WORK=$(mktemp -d /tmp/ghostchat-bench-runtime.XXXXXX)
SCRIPT_NAME=signaling-runtime.sh
# shellcheck source=bench/signaling/common.sh
. "$ROOT/bench/signaling/common.sh"
trap 'stop_all; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

build_release
IFS=';' read -r -a VARIANT_LIST <<<"$VARIANTS"
say "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); server $(measured_commit); ${#VARIANT_LIST[@]} variants × $ROUNDS rounds"
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u '+%Y-%m-%d %H:%M')
for round in $(seq "$ROUNDS"); do
  count=${#VARIANT_LIST[@]}
  for k in $(seq 0 $((count - 1))); do
    index=$(((k + round - 1) % count))
    variant=${VARIANT_LIST[$index]}
    extra=(); [ "$variant" = shipped ] || read -r -a extra <<<"$variant"
    port=$(free_port)
    : >"$WORK/server.log" # emptied here, not by the background job's redirection: the wait must not see the last server's ready line
    env "${GHOSTCHAT_BENCH_ENV[@]}" "${extra[@]}" taskset -c 0 dotnet "$SERVER_DLL" --urls "http://127.0.0.1:$port" >"$WORK/server.log" 2>&1 &
    pid=$!; PIDS+=("$pid")
    wait_for_line "$WORK/server.log" "GhostChat is running" "$pid"
    say "round $round/$ROUNDS: $variant …"
    taskset -c 1 dotnet "$CLI_DLL" bench signaling --url "http://127.0.0.1:$port/" --json --phases throughput,idle \
      --pairs "$PAIRS" --window "$WINDOW" --message-size "$MESSAGE_BYTES" --duration "$DURATION" --warmup "$WARMUP" --idle-peers "$IDLE_PEERS" --server-pid "$pid" \
      >"$WORK/v$index-r$round.json" || { cat "$WORK/v$index-r$round.json" >&2; say "server alive: $(kill -0 "$pid" 2>/dev/null && echo yes || echo no); its log:"; tail -20 "$WORK/server.log" >&2; die "generator failed"; }
    stop_pid "$pid"
  done
done

node - "$WORK" "$ROUNDS" "$VARIANTS" "$(measured_commit)" "$STARTED–$(date -u +%H:%M) UTC" "$LOAD_AT_START → $(cut -d' ' -f1-3 /proc/loadavg)" "$PAIRS pairs, $WINDOW in flight, $MESSAGE_BYTES-byte messages, ${WARMUP}s warm-up, ${DURATION}s measured; $IDLE_PEERS idle peers" <<'JS'
const fs = require('fs');
const [dir, rounds, variants, commit, when, load, shape] = process.argv.slice(2);
console.log(`\nGC and runtime settings: bench/signaling-runtime.sh, GhostChat at ${commit}, ${when}, medians of ${rounds} rounds, ${shape}, load average ${load}`);
const median = (v) => { v = v.filter(Number.isFinite).sort((a, b) => a - b); return v.length ? (v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2) : NaN; };
const rows = variants.split(';').map((name, i) => {
  const runs = Array.from({ length: +rounds }, (_, r) => JSON.parse(fs.readFileSync(`${dir}/v${i}-r${r + 1}.json`, 'utf8')));
  const us = runs.map((r) => r.throughput.serverCpuMicrosecondsPerMessage);
  const kib = runs.map((r) => r.idle.bytesPerPeer / 1024);
  const rate = runs.map((r) => r.throughput.messagesPerSecond);
  return { name, us: median(us), kib: median(kib), rate: median(rate), all: `${us.map((x) => x.toFixed(1)).join(' / ')} µs; ${kib.map((x) => x.toFixed(2)).join(' / ')} KiB` };
});
console.log(`\n| runtime settings (added to the environment) | CPU per relayed message (µs) | RSS per idle peer (KiB) | throughput (msg/s) | per round |`);
console.log('| --- | --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.name} | ${r.us.toFixed(1)} | ${r.kib.toFixed(2)} | ${Math.round(r.rate)} | ${r.all} |`);
JS
