#!/usr/bin/env bash
# Signaling cluster benchmark (MODE=cluster bench/signaling.sh runs this): relay throughput and
# latency of one GhostChat node versus two nodes sharing a real redis-server, driven by the same
# generator (`ghostchat bench signaling`, with --second-url in cluster mode, which spreads the
# peer pairs so that half of them cross between the nodes), plus the measured cross-node share.
#
#   MODE=cluster bench/signaling.sh          3 runs, medians and ratios (about 3 minutes)
#   RUNS=5 PAIRS=50 DURATION=10 RATE=2000 bench/signaling-cluster.sh
#
# No CPU pinning here: two nodes, Redis and the generator share this machine's cores, and the
# single node gets the same machine, so the ratio shows what the cluster costs per message.
# Every process this script starts is stopped by its PID on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
RUNS=${RUNS:-3}
PAIRS=${PAIRS:-50}
WINDOW=${WINDOW:-8}
MESSAGE_BYTES=${MESSAGE_BYTES:-500}
DURATION=${DURATION:-10}
RATE=${RATE:-}
RATE_FRACTION=${RATE_FRACTION:-0.25}
WORK=$(mktemp -d /tmp/ghostchat-bench-cluster.XXXXXX)
SCRIPT_NAME=signaling-cluster.sh
# shellcheck source=bench/signaling/common.sh
. "$ROOT/bench/signaling/common.sh"
cleanup() { stop_all; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v redis-server >/dev/null || die "redis-server is not installed (apt-get install redis-server)"
build_release

# The nodes' shared cluster key (a node on Redis refuses to start without one).
CLUSTER_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
start_node() { # name [redis-url] -> prints "pid port"
  local name=$1 redis=${2:-} port
  port=$(free_port)
  : >"$WORK/$name.log" # emptied here, not by the background job's redirection: the wait must not see the last run's ready line
  env "${GHOSTCHAT_BENCH_ENV[@]}" \
    ${redis:+GhostChat__Redis__ConnectionString=$redis GhostChat__Redis__KeyPrefix=bench: GhostChat__Redis__NodeId=$name GhostChat__Redis__ClusterKey=$CLUSTER_KEY} \
    dotnet "$SERVER_DLL" --urls "http://127.0.0.1:$port" >"$WORK/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  wait_for_line "$WORK/$name.log" "GhostChat is running" "$pid"
  echo "$pid $port"
}
metric_sum() { # port name -> sum of the series
  curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 ~ "^"n"({|$)" {s+=$NF} END {printf "%.0f\n", s}'
}
field() { node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));console.log(process.argv[2].split(".").reduce((o,k)=>o?.[k],r))' "$1" "$2"; }
generate() { # out.json [options…]
  local out=$1; shift
  dotnet "$CLI_DLL" bench signaling --json --pairs "$PAIRS" --window "$WINDOW" --message-size "$MESSAGE_BYTES" --duration "$DURATION" "$@" >"$out" \
    || { cat "$out" >&2; die "generator failed"; }
}

REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no >"$WORK/redis.log" 2>&1 &
PIDS+=("$!")
wait_for_line "$WORK/redis.log" "Ready to accept connections" "$!"

say "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); runs $RUNS, pairs $PAIRS, window $WINDOW, message $MESSAGE_BYTES B, ${DURATION}s phases"
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u '+%Y-%m-%d %H:%M')
for run in $(seq "$RUNS"); do
  read -r SPID SPORT < <(start_node single)
  say "run $run/$RUNS: one node, throughput …"
  generate "$WORK/$run-single-throughput.json" --url "http://127.0.0.1:$SPORT/" --phases throughput
  if [ -z "$RATE" ]; then
    RATE=$(node -e 'console.log(Math.max(10,Math.round(Number(process.argv[1])*Number(process.argv[2])/10)*10))' \
      "$(field "$WORK/$run-single-throughput.json" throughput.messagesPerSecond)" "$RATE_FRACTION")
    say "fixed offered load for the latency phase: $RATE msg/s"
  fi
  say "run $run/$RUNS: one node, latency at $RATE msg/s …"
  generate "$WORK/$run-single-latency.json" --url "http://127.0.0.1:$SPORT/" --phases latency --rate "$RATE"
  stop_pid "$SPID"

  redis-cli -p "$REDIS_PORT" flushall >/dev/null
  read -r N1PID N1PORT < <(start_node n1 "127.0.0.1:$REDIS_PORT")
  read -r N2PID N2PORT < <(start_node n2 "127.0.0.1:$REDIS_PORT")
  say "run $run/$RUNS: two nodes on Redis, throughput …"
  generate "$WORK/$run-cluster-throughput.json" --url "http://127.0.0.1:$N1PORT/" --second-url "http://127.0.0.1:$N2PORT/" --phases throughput
  say "run $run/$RUNS: two nodes on Redis, latency at $RATE msg/s …"
  generate "$WORK/$run-cluster-latency.json" --url "http://127.0.0.1:$N1PORT/" --second-url "http://127.0.0.1:$N2PORT/" --phases latency --rate "$RATE"
  # Deliveries are counted where they land; cross-node ones are also counted where they were sent from.
  relayed=$(( $(metric_sum "$N1PORT" ghostchat_signaling_messages_relayed_total) + $(metric_sum "$N2PORT" ghostchat_signaling_messages_relayed_total) ))
  crossed=$(( $(metric_sum "$N1PORT" ghostchat_cluster_messages_sent_total) + $(metric_sum "$N2PORT" ghostchat_cluster_messages_sent_total) ))
  echo "{\"relayed\":$relayed,\"crossed\":$crossed}" >"$WORK/$run-cluster-share.json"
  stop_pid "$N1PID"; stop_pid "$N2PID"
done

node - "$WORK" "$RUNS" "$RATE" "$(measured_commit)" "$STARTED–$(date -u +%H:%M) UTC" "$LOAD_AT_START → $(cut -d' ' -f1-3 /proc/loadavg)" "$PAIRS pairs, $WINDOW in flight, $MESSAGE_BYTES-byte messages" <<'JS'
const [dir, runs, rate, commit, when, load, shape] = process.argv.slice(2);
const fs = require('fs');
const read = (f) => JSON.parse(fs.readFileSync(`${dir}/${f}`, 'utf8'));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const rows = [];
const pick = (kind, phase, key) => median(Array.from({ length: +runs }, (_, i) => read(`${i + 1}-${kind}-${phase}.json`)[phase][key]));
const share = median(Array.from({ length: +runs }, (_, i) => { const s = read(`${i + 1}-cluster-share.json`); return s.relayed ? s.crossed / s.relayed : 0; }));
for (const [label, phase, key] of [['throughput at saturation (msg/s)', 'throughput', 'messagesPerSecond'],
  [`latency p50 at ${rate} msg/s (ms)`, 'latency', 'p50Ms'], [`latency p99 at ${rate} msg/s (ms)`, 'latency', 'p99Ms']]) {
  const one = pick('single', phase, key), two = pick('cluster', phase, key);
  rows.push([label, one, two, two / one]);
}
console.log(`\nSignaling, one node vs two nodes on Redis: bench/signaling-cluster.sh, GhostChat at ${commit}, ${when}, medians of ${runs} runs, ${shape}, load average ${load}\n`);
console.log('| metric | one node | two nodes + Redis | ratio (two / one) |\n|---|---|---|---|');
for (const [l, a, b, r] of rows) console.log(`| ${l} | ${+a.toFixed(3)} | ${+b.toFixed(3)} | ${r.toFixed(2)}× |`);
console.log(`| cross-node share of relayed messages | 0 % | ${(share * 100).toFixed(1)} % | |`);
JS
