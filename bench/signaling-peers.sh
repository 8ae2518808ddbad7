#!/usr/bin/env bash
# Concurrent heartbeating peers held by one signaling node (issue 19 item 3): PEERS peers register
# (32 handshakes in flight), each sends HEARTBEAT every 5 s as the official client does, and they
# are held for HOLD seconds; then the peers still open, the server's RSS growth per peer and its CPU
# over the hold are read. The server runs as shipped (only the limits that a single load generator
# on 127.0.0.1 would hit are lifted, as in bench/signaling.sh). With REFERENCE=1 the reference
# peer@1.0.2 is measured the same way in the same run.
#
#   bench/signaling-peers.sh                   19,000 peers held 60 s (about 2 minutes)
#   PEERS=5000 HOLD=30 REFERENCE=1 bench/signaling-peers.sh
#
# The ceiling here is the file-descriptor limit (ulimit -Hn: 20,000 on these machines), which the
# generator and the server each need one of per peer. Every process started here is stopped by its PID.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
PEERS=${PEERS:-19000}
HOLD=${HOLD:-60}
REFERENCE=${REFERENCE:-0}
WORK=$(mktemp -d /tmp/ghostchat-bench-peers.XXXXXX)
SCRIPT_NAME=signaling-peers.sh
REFERENCE_JS=$ROOT/tests/interop/node_modules/peer/dist/bin/peerjs.js
# shellcheck source=bench/signaling/common.sh
. "$ROOT/bench/signaling/common.sh"
trap 'stop_all; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((PEERS + 256)) ] \
  || die "ulimit -n is $(ulimit -n): too low for $PEERS peers"

build_release
say "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); server $(measured_commit); $PEERS peers held ${HOLD}s"
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u '+%Y-%m-%d %H:%M')
measure() { # name pid port
  say "$1: registering $PEERS peers and holding them ${HOLD}s …"
  dotnet "$CLI_DLL" bench signaling --url "http://127.0.0.1:$3/" --json --phases idle --idle-peers "$PEERS" --hold "$HOLD" \
    --server-pid "$2" >"$WORK/$1.json" || { cat "$WORK/$1.json" >&2; die "generator failed"; }
  kill -0 "$2" 2>/dev/null || die "$1 server died"
}
port=$(free_port)
env "${GHOSTCHAT_BENCH_ENV[@]}" dotnet "$SERVER_DLL" --urls "http://127.0.0.1:$port" >"$WORK/ghostchat.log" 2>&1 &
pid=$!; PIDS+=("$pid")
wait_for_line "$WORK/ghostchat.log" "GhostChat is running" "$pid"
measure ghostchat "$pid" "$port"
stop_pid "$pid"
if [ "$REFERENCE" = 1 ]; then
  port=$(free_port)
  node "$REFERENCE_JS" --port "$port" --host 127.0.0.1 --key peerjs --path / --concurrent_limit 1000000 >"$WORK/reference.log" 2>&1 &
  pid=$!; PIDS+=("$pid")
  wait_for_line "$WORK/reference.log" "Started PeerServer" "$pid"
  measure reference "$pid" "$port"
  stop_pid "$pid"
fi

node - "$WORK" "$PEERS" "$(measured_commit)" "$STARTED–$(date -u +%H:%M) UTC" "$LOAD_AT_START → $(cut -d' ' -f1-3 /proc/loadavg)" <<'JS'
const fs = require('fs');
const [dir, peers, commit, when, load] = process.argv.slice(2);
console.log(`\nConcurrent heartbeating peers: bench/signaling-peers.sh, GhostChat at ${commit}, ${when}, load average ${load}`);
console.log('\n| server | peers registered | still open after the hold | hold (s) | RSS growth per peer (KiB) | RSS with all peers (MiB) | server CPU while held (% of a core) | held on one node |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const name of ['ghostchat', 'reference']) {
  if (!fs.existsSync(`${dir}/${name}.json`)) continue;
  const i = JSON.parse(fs.readFileSync(`${dir}/${name}.json`, 'utf8')).idle;
  const held = i.registered === +peers && i.stillOpen === +peers && i.failed === 0;
  console.log(`| ${name === 'ghostchat' ? 'GhostChat' : 'peer@1.0.2'} | ${i.registered} | ${i.stillOpen} | ${i.heldSeconds} | ${(i.bytesPerPeer / 1024).toFixed(2)} | ${(i.rssAfterKiB / 1024).toFixed(0)} | ${i.serverCpuPercentWhileHeld} | ${held ? 'met' : 'NOT met'} (goal: all ${peers}) |`);
}
JS
