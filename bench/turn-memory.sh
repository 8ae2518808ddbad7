#!/usr/bin/env bash
# Memory and file descriptors per TURN allocation, as shipped, against coturn 4.6.1 in the same run.
# Our server is the GhostChat.Server process from the Release build (`dotnet GhostChat.Server.dll`, what `dotnet run`
# and the published output run), embedded TURN configured only through documented GhostChat__Turn__* keys, as in
# bench/turn.sh; coturn runs beside it with the same secret. For each server in turn, a client process
# (bench/turn/TurnHost --alloc-hold: our TurnClient, one UDP socket and one REST user per allocation) makes N UDP
# allocations and holds them (after a warm-up of 100 made and given back); the script reads the server's VmRSS and
# open descriptors before and after, and the difference per allocation. For ours it also reads the live managed heap (dotnet-gcdump, which forces a full
# collection: taken after the RSS reading) when dotnet-gcdump is on PATH or named by $GCDUMP.
# Ends with a markdown table naming the commit and the load. Measured, never asserted.
#
#   bench/turn-memory.sh [N=5000]
#   GCDUMP=~/.dotnet/tools/dotnet-gcdump bench/turn-memory.sh 5000           with the managed heap (dotnet-gcdump 10.0.750501)
#   GHOSTCHAT_SERVER_DLL=/path/GhostChat.Server.dll NO_BUILD=1 bench/turn-memory.sh    another build
#
# Servers bind 127.0.0.1 and are stopped by their PIDs on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=bench/turn/common.sh
. "$ROOT/bench/turn/common.sh"
N=${1:-5000}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
SECRET=memsecret-0123456789
REALM=bench.local
BASE=$(( 34000 + ($$ % 1000) * 4 ))
COTURN_PORT=$BASE; OURS_PORT=$((BASE + 2))
HTTP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SERVER_DLL=${GHOSTCHAT_SERVER_DLL:-$ROOT/src/GhostChat.Server/bin/Release/net10.0/GhostChat.Server.dll}
WORK=$(mktemp -d /tmp/ghostchat-turn-memory.XXXXXX)
PIDS=()
cleanup() { exec 3>&- 2>/dev/null || true; for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

command -v turnserver >/dev/null || { echo "coturn is not installed (apt-get install -y coturn)"; exit 1; }
(( $(ulimit -n) > N + 200 )) || { echo "the descriptor limit ($(ulimit -n)) is too low for $N allocations"; exit 1; }
GCDUMP=${GCDUMP:-$(command -v dotnet-gcdump || true)}

if [[ "${NO_BUILD:-0}" != 1 ]]; then
  dotnet build src/GhostChat.Server -c Release -v q -nologo -p:GhostChatSkipWebBuild=true >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
fi
dotnet build bench/turn/TurnHost -c Release -v q -nologo >"$WORK/build-host.log" 2>&1 || { cat "$WORK/build-host.log"; exit 1; }
HOST_DLL=$ROOT/bench/turn/TurnHost/bin/Release/net10.0/TurnHost.dll
COMMIT=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src bench 2>/dev/null || echo "+dirty")
LOAD_BEFORE=$(uptime | sed 's/.*load average: //')

mkdir -p "$WORK/coturn"
turnserver -n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port=$COTURN_PORT \
  --min-port=40000 --max-port=59999 --use-auth-secret --static-auth-secret=$SECRET --realm=$REALM --fingerprint \
  --no-cli --no-tls --no-dtls --log-file=stdout --simple-log \
  --pidfile="$WORK/coturn/turnserver.pid" --userdb="$WORK/coturn/turndb" >"$WORK/coturn.log" 2>&1 &
COTURN_PID=$!; PIDS+=("$COTURN_PID")
# As bench/turn.sh: loopback only, the benchmark's secret and realm, and the per-source limits raised because every
# allocation comes from 127.0.0.1 (coturn 4.6.1 has no such limits).
env GhostChat__Turn__ListenAddresses__0=127.0.0.1 GhostChat__Turn__AdvertisedAddress=127.0.0.1 \
  GhostChat__Turn__UdpPort=$OURS_PORT GhostChat__Turn__TcpPort=$OURS_PORT \
  GhostChat__Turn__Secrets__0=$SECRET GhostChat__Turn__Realm=$REALM \
  GhostChat__Turn__RelayMinPort=20000 GhostChat__Turn__RelayMaxPort=31999 \
  GhostChat__Turn__MaxAllocationsPerUser=100000 GhostChat__Turn__MaxAllocationsPerSource=100000 \
  GhostChat__Turn__UnauthorizedPerSecondPerSource=100000 \
  dotnet "$SERVER_DLL" --urls "http://127.0.0.1:$HTTP_PORT" >"$WORK/ours.log" 2>&1 &
OURS_PID=$!; PIDS+=("$OURS_PID")
wait_turn_ready "$OURS_PID" "$COTURN_PORT" "$OURS_PORT"
sleep 5 # both settle (our host's start-up work, the ICE prober's first probes)

rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }
heap() { # live managed bytes of a .NET process (a full collection), or "n/a"
  [[ -n "$GCDUMP" ]] || { echo n/a; return; }
  local f; f="$WORK/heap-$1-$RANDOM.gcdump"
  timeout 120 "$GCDUMP" collect -p "$1" -o "$f" >/dev/null 2>&1 && "$GCDUMP" report "$f" 2>/dev/null | awk '/GC Heap bytes/ {gsub(",", "", $1); print $1; exit}' || echo n/a
}
hold() { # name port n: a client process makes n allocations and holds them; returns when they are held (its PID in HOLDER)
  local fifo="$WORK/hold-$1-$3"
  mkfifo "$fifo"
  dotnet "$HOST_DLL" --alloc-hold "127.0.0.1:$2" "$SECRET" "$3" <"$fifo" >"$WORK/client-$1-$3.log" 2>&1 &
  HOLDER=$!; PIDS+=("$HOLDER")
  exec 3>"$fifo"
  until grep -q HELD "$WORK/client-$1-$3.log"; do
    kill -0 "$HOLDER" 2>/dev/null || { echo "the client stopped before holding $3 allocations on $1:" >&2; cat "$WORK/client-$1-$3.log" >&2; exit 1; }
    sleep 0.5
  done
}
release() { exec 3>&-; wait "$HOLDER" || true; } # the client gives its allocations back and ends
measure() { # name pid port dotnet(0/1) → one line "name rss0 rss1 fd0 fd1 heap0 heap1 seconds"
  local name=$1 pid=$2 port=$3 managed=$4 rss0 rss1 fd0 fd1 heap0=n/a heap1=n/a t0 t1
  # Warm-up (not measured): 100 allocations made and given back, so one-off costs (code compiled on first use,
  # pools, the first relay sockets) fall before the "before" reading.
  hold "$name" "$port" 100; release; sleep 2
  rss0=$(rss "$pid"); fd0=$(fds "$pid")
  [[ $managed == 1 ]] && heap0=$(heap "$pid")
  t0=$(date +%s.%N)
  hold "$name" "$port" "$N"
  t1=$(date +%s.%N)
  sleep 3
  rss1=$(rss "$pid"); fd1=$(fds "$pid")
  [[ $managed == 1 ]] && heap1=$(heap "$pid")
  release
  echo "$name $rss0 $rss1 $fd0 $fd1 $heap0 $heap1 $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')"
}
per() { awk -v a="$1" -v b="$2" -v n="$N" 'BEGIN{ if (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/) printf "%.2f", (b-a)/n; else print "n/a" }'; }

echo "# coturn $(turnserver --version 2>/dev/null | head -1 || true) vs GhostChat.Server (embedded TURN) at $COMMIT, $N UDP allocations each"
echo "# ours: PID $OURS_PID; DOTNET_* in its environment: $(tr '\0' '\n' </proc/$OURS_PID/environ | grep -o '^DOTNET_[A-Za-z_]*' | tr '\n' ' ' || true)"
read -r _ crss0 crss1 cfd0 cfd1 _ _ csec <<<"$(measure coturn $COTURN_PID $COTURN_PORT 0)"
read -r _ orss0 orss1 ofd0 ofd1 oheap0 oheap1 osec <<<"$(measure ours $OURS_PID $OURS_PORT 1)"
[[ -n "${csec:-}" && -n "${osec:-}" ]] || { echo "a measurement failed; logs in $WORK"; exit 1; }
LOAD_AFTER=$(uptime | sed 's/.*load average: //')
cper=$(per "$crss0" "$crss1"); oper=$(per "$orss0" "$orss1")

echo
echo "### bench/turn-memory.sh $N at $COMMIT, $(date -u '+%Y-%m-%d %H:%M UTC'); load average before $LOAD_BEFORE, after $LOAD_AFTER"
echo
echo "| server | RSS before → after (KiB) | RSS per allocation (KiB) | descriptors before → after | per allocation | live managed heap before → after (bytes) | per allocation (bytes) | $N allocations made in (s) |"
echo "|---|--:|--:|--:|--:|--:|--:|--:|"
echo "| coturn 4.6.1 | $crss0 → $crss1 | $cper | $cfd0 → $cfd1 | $(per "$cfd0" "$cfd1") | – | – | $csec |"
echo "| GhostChat.Server (as shipped) | $orss0 → $orss1 | $oper | $ofd0 → $ofd1 | $(per "$ofd0" "$ofd1") | $oheap0 → $oheap1 | $(awk -v a="$oheap0" -v b="$oheap1" -v n="$N" 'BEGIN{ if (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/) printf "%.0f", (b-a)/n; else print "n/a" }') | $osec |"
echo
echo "RSS per allocation ours/coturn: $(awk -v a="$oper" -v b="$cper" 'BEGIN{ if (b+0>0) printf "%.2f", a/b; else print "n/a"}'). Logs in $WORK."
