#!/usr/bin/env bash
# TURN benchmark: coturn 4.6.1 and GhostChat.Turn side by side, the same turnutils_uclient load at stepped
# offered loads over UDP and TCP. Per step and server: loss, average RTT, server CPU-seconds per million relayed
# packets (utime+stime from /proc/PID/stat), and the ratio ours/coturn. Then allocations per second (the same
# C# TURN client against both). Measured, never asserted. Usage: bench/turn.sh [quick]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d /tmp/ghostchat-turn-bench.XXXXXX)
SECRET=benchsecret-0123456789
REALM=bench.local
BASE=$(( 30000 + ($$ % 2000) * 10 ))
COTURN_PORT=$BASE; OURS_PORT=$((BASE + 2)); PEER_PORT=$((BASE + 4))
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

command -v turnserver >/dev/null || { echo "coturn is not installed (apt-get install -y coturn)"; exit 1; }
for p in $COTURN_PORT $OURS_PORT $PEER_PORT; do
  if ss -Hlun "sport = :$p" | grep -q . || ss -Hltn "sport = :$p" | grep -q .; then echo "port $p is taken; run again"; exit 1; fi
done
CPUS=$(nproc); SERVER_CPU=0; CLIENT_CPU=$(( CPUS > 1 ? 1 : 0 ))

dotnet build bench/turn/TurnHost -c Release -v q -nologo >/dev/null
HOST_DLL=$ROOT/bench/turn/TurnHost/bin/Release/net10.0/TurnHost.dll

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
clk=$(getconf CLK_TCK)

echo "# coturn $(turnserver --version 2>/dev/null | head -1 || true) vs GhostChat.Turn; server on CPU $SERVER_CPU, clients on CPU $CLIENT_CPU"
mkdir -p "$WORK/coturn"
taskset -c $SERVER_CPU turnserver -n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port=$COTURN_PORT \
  --min-port=61000 --max-port=62999 --use-auth-secret --static-auth-secret=$SECRET --realm=$REALM --fingerprint \
  --allow-loopback-peers --no-cli --no-tls --no-dtls --log-file=stdout --simple-log \
  --pidfile="$WORK/coturn/turnserver.pid" --userdb="$WORK/coturn/turndb" >"$WORK/coturn.log" 2>&1 &
COTURN_PID=$!; PIDS+=("$COTURN_PID")
# Socket continuations run on the epoll thread instead of hopping to the thread pool (a .NET runtime switch that
# Kestrel's own benchmarks use); the 401 rate limit is raised because every uclient/alloc-bench client comes from
# 127.0.0.1 and coturn 4.6.1 has no such limit.
DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 taskset -c $SERVER_CPU dotnet "$HOST_DLL" --unauth-rate 100000 --listen 127.0.0.1 --port $OURS_PORT --secret $SECRET --realm $REALM \
  --allow-peer 127.0.0.1 --min-port 59000 --max-port 60999 --user-quota 100000 --source-quota 100000 --max-bps 0 >"$WORK/ours.log" 2>&1 &
OURS_PID=$!; PIDS+=("$OURS_PID")
taskset -c $CLIENT_CPU turnutils_peer -L 127.0.0.1 -p $PEER_PORT >/dev/null 2>&1 &
PIDS+=("$!")
for port in $COTURN_PORT $OURS_PORT; do
  for _ in $(seq 100); do
    if timeout 3 turnutils_stunclient -p "$port" 127.0.0.1 2>/dev/null | grep -c "reflexive" >/dev/null; then break; fi
    sleep 0.2
  done
done

if [[ "${1:-}" == quick ]]; then
  STEPS=("10 200 20" "50 400 10")
else
  STEPS=("10 500 20" "50 500 10" "100 1000 5" "100 2000 2" "200 1000 2")
fi

run_step() { # server-pid port transport-flag m n z → "loss% rtt_ms cpu_s relayed"
  local pid=$1 port=$2 tflag=$3 m=$4 n=$5 z=$6
  local before after out
  before=$(cpu_ticks "$pid")
  out=$(taskset -c $CLIENT_CPU timeout 300 turnutils_uclient $tflag -W $SECRET -u bench -e 127.0.0.1 -r $PEER_PORT -X -c \
        -m "$m" -n "$n" -l 120 -z "$z" -p "$port" 127.0.0.1 2>&1 || true)
  after=$(cpu_ticks "$pid")
  # Keep uclient's whole output per step, so a step without totals can be read afterwards.
  printf '%s\n' "$out" >"$WORK/uclient-$port${tflag:+-tcp}-m$m-n$n-z$z.log"
  local sent recv loss rtt
  sent=$(grep -o 'tot_send_msgs=[0-9]*' <<<"$out" | tail -1 | cut -d= -f2); sent=${sent:-0}
  recv=$(grep -o 'tot_recv_msgs=[0-9]*' <<<"$out" | tail -1 | cut -d= -f2); recv=${recv:-0}
  loss=$(grep -o 'Total lost packets [0-9]* ([0-9.]*%)' <<<"$out" | tail -1 | sed 's/.*(\(.*\)%)/\1/'); loss=${loss:-100}
  rtt=$(grep -o 'Average round trip delay [0-9.]* ms' <<<"$out" | tail -1 | awk '{print $5}'); rtt=${rtt:-nan}
  # Each message is relayed twice by the server: client → peer, and the echo peer → client.
  echo "$loss $rtt $(awk -v t=$((after - before)) -v c="$clk" 'BEGIN{printf "%.2f", t/c}') $((sent + recv))"
}

# Warm-up (not reported): JIT for ours, caches for both.
run_step $COTURN_PID $COTURN_PORT "" 10 200 5 >/dev/null
run_step $OURS_PID $OURS_PORT "" 10 200 5 >/dev/null
run_step $OURS_PID $OURS_PORT "-t" 10 200 5 >/dev/null

printf '\n%-4s %-5s %-6s %-4s %10s | %8s %8s %12s | %8s %8s %12s | %8s\n' \
  proto m n z "offered/s" "c-loss%" "c-rtt" "c-cpu/Mpkt" "o-loss%" "o-rtt" "o-cpu/Mpkt" "cpu o/c"
for proto in udp tcp; do
  tflag=""; [[ $proto == tcp ]] && tflag="-t"
  for step in "${STEPS[@]}"; do
    read -r m n z <<<"$step"
    read -r cl cr cc cp <<<"$(run_step $COTURN_PID $COTURN_PORT "$tflag" $m $n $z)"
    read -r ol or oc op <<<"$(run_step $OURS_PID $OURS_PORT "$tflag" $m $n $z)"
    cper=$(awk -v c="$cc" -v p="$cp" 'BEGIN{ if (p>0) printf "%.1f", c*1e6/p; else print "nan"}')
    oper=$(awk -v c="$oc" -v p="$op" 'BEGIN{ if (p>0) printf "%.1f", c*1e6/p; else print "nan"}')
    ratio=$(awk -v a="$oper" -v b="$cper" 'BEGIN{ if (b+0>0) printf "%.2f", a/b; else print "nan"}')
    printf '%-4s %-5s %-6s %-4s %10s | %8s %8s %12s | %8s %8s %12s | %8s\n' \
      $proto $m $n $z $((m * 1000 / z)) "$cl" "$cr" "$cper" "$ol" "$or" "$oper" "$ratio"
  done
done

echo
echo "allocations per second (GhostChat.Turn client, 400 allocations, 8 at a time, over UDP):"
ca=$(taskset -c $CLIENT_CPU dotnet "$HOST_DLL" --alloc-bench 127.0.0.1:$COTURN_PORT $SECRET 400 8)
oa=$(taskset -c $CLIENT_CPU dotnet "$HOST_DLL" --alloc-bench 127.0.0.1:$OURS_PORT $SECRET 400 8)
echo "  coturn: $ca/s   GhostChat.Turn: $oa/s   ratio ours/coturn: $(awk -v a="$oa" -v b="$ca" 'BEGIN{printf "%.2f", a/b}')"
echo "(logs in $WORK)"
