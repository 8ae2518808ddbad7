#!/usr/bin/env bash
# Signaling memory under the slow-reader attack (issue 15 item 2): the server as shipped (default
# limits; only its listening address set), attacked by bench/signaling/slow-readers.mjs —
# never-reading WebSockets flooded with ~60 kB frames by other sockets, from several loopback
# addresses — while its resident memory is sampled. Prints the attack's JSON (peakRssMiB is the
# process's peak, VmHWM) and a one-line summary.
#
#   bench/signaling-slow-readers.sh
#   SLOW_ADDRS=8 DURATION=120 bench/signaling-slow-readers.sh     fewer slow sockets, longer
#   GHOSTCHAT_SERVER_DLL=/path/to/GhostChat.Server.dll NO_BUILD=1 bench/signaling-slow-readers.sh
#                                           another build (e.g. one from before the byte budgets)
#   EMBEDDED_TURN=1                         keep the embedded TURN server on (UDP/TCP 3478 must be free)
#   STOP_RSS_MB=4096                        stop the attack once the server's RSS passes this
#
# The server is started by this script and stopped by its PID on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
SERVER_DLL=${GHOSTCHAT_SERVER_DLL:-$ROOT/src/GhostChat.Server/bin/Release/net10.0/GhostChat.Server.dll}
WORK=$(mktemp -d /tmp/ghostchat-bench-slow-readers.XXXXXX)
say() { printf '%s\n' "$*" >&2; }

SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "${NO_BUILD:-0}" != 1 ]; then
  say "building Release (GhostChat.Server) …"
  dotnet build "$ROOT/src/GhostChat.Server" -c Release -v q -nologo >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; exit 1; }
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
TURN=(GhostChat__Turn__Enabled=false)
[ "${EMBEDDED_TURN:-0}" = 1 ] && TURN=()
env "${TURN[@]}" dotnet "$SERVER_DLL" --urls "http://127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
  sleep 0.2
done
say "server PID $SERVER_PID on 127.0.0.1:$PORT ($SERVER_DLL)"

node "$ROOT/bench/signaling/slow-readers.mjs" "http://127.0.0.1:$PORT/" "$SERVER_PID" >"$WORK/result.json"
cat "$WORK/result.json"
kill -0 "$SERVER_PID" 2>/dev/null || say "the server died during the attack"
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const m = r.metricsAfter;
  console.error(`peak RSS ${r.peakRssMiB} MiB${r.stoppedEarly ? " (stopped at the STOP_RSS_MB line)" : ""} `
    + `(before the flood ${r.rssBeforeFloodMiB} MiB); ${r.neverReadingSockets} never-reading sockets, ${r.flooders} flooders, `
    + `${r.floodedMiB} MiB sent in ${r.floodSeconds} s; closed as too slow: ${m.closedSlowConsumer ?? "n/a"} (socket budget) `
    + `+ ${m.closedNodeBudget ?? "n/a"} (node budget); honest OFFERs ${r.honest.received}/${r.honest.sent}, worst ${r.honest.worstMs} ms`);
' "$WORK/result.json"
