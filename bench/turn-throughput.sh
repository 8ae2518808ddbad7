#!/usr/bin/env bash
# Relayed throughput of one allocation, in rounds: coturn 4.6.1, GhostChat.Server as shipped, and GhostChat.Server
# with VARIANT added to its environment (default GhostChat__Turn__UdpGro=false, i.e. GRO off), one after another in
# each round. The client is bench/turn.sh's (bench/turn/TurnHost --throughput: 32 datagrams of 1,200 bytes in flight
# through one UDP allocation and a channel to an echo peer, 10 s, on the clients' CPU). Besides MB/s it reads each
# server's CPU (utime+stime from /proc) over seconds 2–8 of its run: when no server is near 100 % of its core, the
# client sets the figure, not the servers.
#
#   bench/turn-throughput.sh
#   ROUNDS=5 VARIANT='GhostChat__Turn__UdpBatchedPeerSends=false' bench/turn-throughput.sh
#   NO_BUILD=1 bench/turn-throughput.sh                 the Release build bench/turn.sh made
#
# Servers bind 127.0.0.1 and are stopped by their PIDs on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=bench/turn/common.sh
. "$ROOT/bench/turn/common.sh"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
WORK=$(mktemp -d /tmp/ghostchat-turn-throughput.XXXXXX)
ROUNDS=${ROUNDS:-3}
VARIANT=${VARIANT:-GhostChat__Turn__UdpGro=false}
SECRET=benchsecret-0123456789
SERVER_DLL=$ROOT/src/GhostChat.Server/bin/Release/net10.0/GhostChat.Server.dll
HOST_DLL=$ROOT/bench/turn/TurnHost/bin/Release/net10.0/TurnHost.dll
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
command -v turnserver >/dev/null || { echo "coturn is not installed (apt-get install -y coturn)"; exit 1; }
CPUS=$(nproc); SERVER_CPU=0; CLIENT_CPU=$(( CPUS > 1 ? 1 : 0 ))

for try in $(seq 50); do
  BASE=$(( 40000 + (($$ + try * 97) % 1500) * 10 ))
  C=$BASE; A=$((BASE + 2)); B=$((BASE + 4))
  port_used $C || port_used $A || port_used $B || break
done

if [[ "${NO_BUILD:-0}" != 1 ]]; then
  dotnet build src/GhostChat.Server -c Release -v q -nologo -p:GhostChatSkipWebBuild=true >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
  dotnet build bench/turn/TurnHost -c Release -v q -nologo >"$WORK/build-host.log" 2>&1 || { cat "$WORK/build-host.log"; exit 1; }
fi
COMMIT=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src bench 2>/dev/null || echo "+dirty")
START=$(date -u '+%Y-%m-%d %H:%M'); LOAD_BEFORE=$(uptime | sed 's/.*load average://')

start_coturn $SERVER_CPU $C $SECRET
PC=$COTURN_PID
# Ours twice, with relay port ranges of their own (turn_bench_env's for the one as shipped).
taskset -c $SERVER_CPU env $(turn_bench_env $A $SECRET) dotnet "$SERVER_DLL" --urls "http://127.0.0.1:$(free_tcp_port)" >"$WORK/ours.log" 2>&1 &
PA=$!; PIDS+=("$PA")
read -r -a EXTRA <<<"$VARIANT"
taskset -c $SERVER_CPU env $(turn_bench_env $B $SECRET) GhostChat__Turn__RelayMinPort=57000 GhostChat__Turn__RelayMaxPort=58999 \
  "${EXTRA[@]}" dotnet "$SERVER_DLL" --urls "http://127.0.0.1:$(free_tcp_port)" >"$WORK/variant.log" 2>&1 &
PB=$!; PIDS+=("$PB")
wait_turn_ready "$PA" $C $A $B
kill -0 "$PB" 2>/dev/null || { cat "$WORK/variant.log"; exit 1; }

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
clk=$(getconf CLK_TCK)
# run PORT PID → "MB/s echoed lost cpu%"
run() {
  taskset -c $CLIENT_CPU dotnet "$HOST_DLL" --throughput 127.0.0.1:$1 $SECRET 1200 32 10 >"$WORK/tp.out" 2>/dev/null &
  local client=$!
  sleep 2; local t0; t0=$(ticks "$2"); sleep 6; local t1; t1=$(ticks "$2")
  wait $client || echo "0 0 fail" >"$WORK/tp.out"
  echo "$(cat "$WORK/tp.out") $(awk -v d=$((t1 - t0)) -v c="$clk" 'BEGIN{printf "%.0f", d / c / 6 * 100}')"
}
declare -A MB CPU
for r in $(seq "$ROUNDS"); do
  for s in coturn ours variant; do
    case $s in coturn) port=$C; pid=$PC ;; ours) port=$A; pid=$PA ;; variant) port=$B; pid=$PB ;; esac
    read -r mb echoed lost cpu <<<"$(run $port $pid)"
    echo "round $r $s: $mb MB/s ($echoed echoed, $lost lost), server CPU $cpu % of its core"
    MB[$s]+="$mb "; CPU[$s]+="$cpu "
  done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END{print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo
echo "### bench/turn-throughput.sh at $COMMIT, $START–$(date -u '+%H:%M') UTC, $ROUNDS rounds, load:$LOAD_BEFORE →$(uptime | sed 's/.*load average://')"
echo
echo "| server | MB/s per round | median MB/s | ratio to coturn | server CPU per round (% of its core) |"
echo "|---|---|--:|--:|---|"
cm=$(echo "${MB[coturn]}" | median)
for s in coturn ours variant; do
  name=$s; [[ $s == ours ]] && name="GhostChat.Server as shipped"; [[ $s == variant ]] && name="GhostChat.Server, $VARIANT"
  m=$(echo "${MB[$s]}" | median)
  echo "| $name | ${MB[$s]% } | $m | $(awk -v a="$m" -v b="$cm" 'BEGIN{printf "%.2f", (b > 0) ? a / b : 0}') | ${CPU[$s]% } |"
done
echo
echo "Logs in $WORK."
