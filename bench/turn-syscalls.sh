#!/usr/bin/env bash
# System calls per relayed packet, ours vs coturn 4.6.1 (issue 19): both servers started exactly as bench/turn.sh
# starts them (ours as shipped, configured through turn_bench_env), one unreported warm-up step each, then per server
# one UDP step under `perf stat -e 'syscalls:sys_enter_*' -e instructions -p PID` (the whole process, all threads).
# Counts per relayed packet do not depend on the machine's load the way CPU time does, so this A/B is readable on a
# busy machine.
#
#   bench/turn-syscalls.sh                  the 500 msg/s step of bench/turn.sh (10 × 500, every 20 ms)
#   STEP="50 2000 5" bench/turn-syscalls.sh the 10,000 msg/s step
#   STEP=throughput bench/turn-syscalls.sh  one allocation as fast as it goes, as bench/turn.sh measures its throughput
#                                           (bench/turn/TurnHost --throughput, 32 × 1,200 B in flight, 5 s)
#   GHOSTCHAT_SERVER_DLL=/path/GhostChat.Server.dll NO_BUILD=1 bench/turn-syscalls.sh   another build (e.g. main's)
#   EXTRA_ENV='DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0' bench/turn-syscalls.sh      A/B of a runtime setting (not as shipped)
#   MEASURE=profile STEP="50 2000 5" bench/turn-syscalls.sh   where the CPU goes instead: `perf record -g -F 4999` of
#                                           each whole process over the step, split by bench/perf-split.py into µs
#                                           per relayed packet by thread (user / kernel) and by system call
#   WARMUP_ROUNDS=4                         warm-up as bench/turn.sh: rounds of 10 × 1,000 messages over UDP and TCP
#
# Servers bind 127.0.0.1 and are stopped by their PIDs on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=bench/turn/common.sh
. "$ROOT/bench/turn/common.sh"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
WORK=$(mktemp -d /tmp/ghostchat-turn-syscalls.XXXXXX)
SERVER_DLL=${GHOSTCHAT_SERVER_DLL:-$ROOT/src/GhostChat.Server/bin/Release/net10.0/GhostChat.Server.dll}
SECRET=benchsecret-0123456789
read -r -a STEP_ARGS <<<"${STEP:-10 500 20}"
command -v turnserver >/dev/null || { echo "coturn is not installed (apt-get install -y coturn)"; exit 1; }
command -v perf >/dev/null || { echo "perf is not installed"; exit 1; }
# TURN takes one port for UDP and TCP: two UDP ports whose TCP twins are free too, the echo peer's and the HTTP port.
read -r COTURN_PORT OURS_PORT PEER_PORT HTTP_PORT < <(python3 -c '
import socket
held, ports = [], []
while len(ports) < 2:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0)); port = u.getsockname()[1]
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", port)); ports.append(port); held += [u, t]
    except OSError:
        u.close(); t.close()
p = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); p.bind(("127.0.0.1", 0))
h = socket.socket(); h.bind(("127.0.0.1", 0))
print(ports[0], ports[1], p.getsockname()[1], h.getsockname()[1])')
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
if [[ "${NO_BUILD:-0}" != 1 ]]; then
  dotnet build src/GhostChat.Server -c Release -v q -nologo -p:GhostChatSkipWebBuild=true >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
fi
COMMIT=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src bench 2>/dev/null || echo "+dirty")
[[ -n "${GHOSTCHAT_SERVER_DLL:-}" ]] && COMMIT="$COMMIT (ours: $SERVER_DLL)"
start_coturn 0 $COTURN_PORT $SECRET
read -r -a EXTRA <<<"${EXTRA_ENV:-}"
taskset -c 0 env "${EXTRA[@]}" $(turn_bench_env "$OURS_PORT" "$SECRET") dotnet "$SERVER_DLL" --urls "http://127.0.0.1:$HTTP_PORT" >"$WORK/ours.log" 2>&1 &
OURS_PID=$!; PIDS+=("$OURS_PID")
taskset -c 1 turnutils_peer -L 127.0.0.1 -p "$PEER_PORT" >/dev/null 2>&1 &
PIDS+=("$!")
wait_turn_ready "$OURS_PID" "$COTURN_PORT" "$OURS_PORT"
curl -fsS -o /dev/null "http://127.0.0.1:$HTTP_PORT/api/ice" || echo "# GET /api/ice failed"
uclient() { # port m n z [-t] → uclient's output
  taskset -c 1 timeout 300 turnutils_uclient ${5:-} -W $SECRET -u bench -e 127.0.0.1 -r "$PEER_PORT" -X -c \
    -m "$2" -n "$3" -l 1000 -z "$4" -p "$1" 127.0.0.1 2>&1 || true
}
HOST_DLL=$ROOT/bench/turn/TurnHost/bin/Release/net10.0/TurnHost.dll
if [[ ${STEP_ARGS[0]} == throughput ]]; then
  dotnet build bench/turn/TurnHost -c Release -v q -nologo >"$WORK/build-host.log" 2>&1 || { cat "$WORK/build-host.log"; exit 1; }
fi
MEASURE=${MEASURE:-syscalls}
[[ $MEASURE == syscalls || $MEASURE == profile ]] || { echo "MEASURE is syscalls or profile"; exit 2; }
# The same warm-up as bench/turn.sh (so ours has compiled its per-session code): rounds over UDP and TCP.
for ((w = 0; w < ${WARMUP_ROUNDS:-4}; w++)); do
  for tflag in "" "-t"; do
    uclient "$COTURN_PORT" 10 1000 5 $tflag >/dev/null; uclient "$OURS_PORT" 10 1000 5 $tflag >/dev/null
  done
done

echo "# files (logs, perf data) in $WORK"
echo "# bench/turn-syscalls.sh ($MEASURE) at $COMMIT, $(date -u '+%Y-%m-%d %H:%M UTC'), step ${STEP_ARGS[*]} (m n z)${EXTRA_ENV:+, ours with $EXTRA_ENV (NOT as shipped)}, load:$(uptime | sed 's/.*load average://')"
for who in coturn ours; do
  if [[ $who == coturn ]]; then pid=$COTURN_PID port=$COTURN_PORT; else pid=$OURS_PID port=$OURS_PORT; fi
  if [[ $MEASURE == profile ]]; then
    perf record -q -F 4999 -g -o "$WORK/perf-$who.data" -p "$pid" 2>"$WORK/perf-$who.log" &
  else
    perf stat --per-thread -x, -o "$WORK/perf-$who.csv" -e 'syscalls:sys_enter_*' -p "$pid" &
  fi
  perf_pid=$!
  sleep 0.5
  if [[ ${STEP_ARGS[0]} == throughput ]]; then
    # "MB/s echoed lost": each echoed datagram was relayed twice.
    read -r mbs echoed lost < <(taskset -c 1 dotnet "$HOST_DLL" --throughput 127.0.0.1:$port $SECRET 1200 32 5 2>/dev/null || echo "0 0 fail")
    kill -INT "$perf_pid"; wait "$perf_pid" || true
    packets=$(( 2 * ${echoed:-0} ))
    echo "## $who: $packets relayed packets ($mbs MB/s, $lost lost)"
  else
    out=$(uclient "$port" "${STEP_ARGS[@]}")
    kill -INT "$perf_pid"; wait "$perf_pid" || true
    sent=$(grep -o 'tot_send_msgs=[0-9]*' <<<"$out" | tail -1 | cut -d= -f2); recv=$(grep -o 'tot_recv_msgs=[0-9]*' <<<"$out" | tail -1 | cut -d= -f2)
    packets=$(( ${sent:-0} + ${recv:-0} ))
    echo "## $who: $packets relayed packets ($(grep -o 'Total lost packets.*' <<<"$out" | tail -1))"
  fi
  if [[ $MEASURE == profile ]]; then
    python3 "$ROOT/bench/perf-split.py" "$WORK/perf-$who.data" "$packets" "$who"
    continue
  fi
  # --per-thread lines: thread-tid,count,,event,...  → per call (all threads), then per thread (all calls)
  awk -F, -v p="$packets" '$2 ~ /^[0-9]+$/ && $2 > 0 {
      n = $4; sub(/^syscalls:sys_enter_/, "", n); t = $1; sub(/-[0-9]+$/, "", t)
      call[n] += $2; thread[t] += $2; tot += $2 }
    END {
      for (n in call) if (call[n] / p >= 0.001) printf "  %-28s %10d  %8.3f per packet\n", n, call[n], call[n] / p
      printf "  %-28s %10d  %8.3f per packet\n", "all system calls", tot, tot / p
      for (t in thread) if (thread[t] / p >= 0.001) printf "  thread %-21s %10d  %8.3f per packet\n", t, thread[t], thread[t] / p
    }' "$WORK/perf-$who.csv" | sort -k1,1 -s
done
