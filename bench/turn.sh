#!/usr/bin/env bash
# TURN benchmark, as shipped: the GhostChat.Server process (Release build of the server DLL with its csproj runtime
# settings, run as `dotnet GhostChat.Server.dll` like `dotnet run` and the published output run it; embedded TURN
# configured only through documented GhostChat__Turn__* keys, no runtime switches of its own) and coturn 4.6.1 side by
# side in one run, the same turnutils_uclient load over UDP channels and TCP at stepped offered loads.
# Per step and server: loss, average RTT, CPU-seconds of the whole server process per million relayed packets
# (utime+stime from /proc/PID/stat) and the ratio ours/coturn; then the relayed throughput of one allocation (MB/s)
# and allocations per second. Ends with a markdown table that names the commit and decides each goal of issue 19
# ("met" / "not met") from the numbers in it.
#
#   bench/turn.sh            full run (~7 min)
#   bench/turn.sh quick      fewer steps (~4 min)
#   WARMUP_ROUNDS=1 bench/turn.sh quick                                           a shorter warm-up (default 4)
#   GHOSTCHAT_SERVER_DLL=/path/GhostChat.Server.dll NO_BUILD=1 bench/turn.sh    another build (e.g. main's)
#   EXTRA_ENV='DOTNET_TieredPGO=0' bench/turn.sh quick                           A/B of a runtime setting (not as shipped)
#
# Servers bind 127.0.0.1 and are stopped by their PIDs on exit. Exit status 0 whatever the goals say: the table says.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=bench/turn/common.sh
. "$ROOT/bench/turn/common.sh"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
WORK=$(mktemp -d /tmp/ghostchat-turn-bench.XXXXXX)
SERVER_DLL=${GHOSTCHAT_SERVER_DLL:-$ROOT/src/GhostChat.Server/bin/Release/net10.0/GhostChat.Server.dll}
SECRET=benchsecret-0123456789
# Ports in use in any state (port_used, bench/turn/common.sh) are skipped.
for try in $(seq 50); do
  BASE=$(( 30000 + (($$ + try * 97) % 2000) * 10 ))
  COTURN_PORT=$BASE; OURS_PORT=$((BASE + 2)); PEER_PORT=$((BASE + 4))
  port_used $COTURN_PORT || port_used $OURS_PORT || port_used $PEER_PORT || break
done
HTTP_PORT=$(free_tcp_port)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

command -v turnserver >/dev/null || { echo "coturn is not installed (apt-get install -y coturn)"; exit 1; }
for p in $COTURN_PORT $OURS_PORT $PEER_PORT; do
  if port_used $p; then echo "port $p is taken; run again"; exit 1; fi
done
CPUS=$(nproc); SERVER_CPU=0; CLIENT_CPU=$(( CPUS > 1 ? 1 : 0 ))

if [[ "${NO_BUILD:-0}" != 1 ]]; then
  # The web app plays no part in TURN: skip its npm build (the server then serves a placeholder page).
  dotnet build src/GhostChat.Server -c Release -v q -nologo -p:GhostChatSkipWebBuild=true >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
fi
# The allocation benchmark's client (a C# TURN client; not the server under test).
dotnet build bench/turn/TurnHost -c Release -v q -nologo >"$WORK/build-host.log" 2>&1 || { cat "$WORK/build-host.log"; exit 1; }
HOST_DLL=$ROOT/bench/turn/TurnHost/bin/Release/net10.0/TurnHost.dll
COMMIT=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src bench 2>/dev/null || echo "+dirty")

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
clk=$(getconf CLK_TCK)

echo "# coturn $(turnserver --version 2>/dev/null | head -1 || true) vs GhostChat.Server (embedded TURN) at $COMMIT; server on CPU $SERVER_CPU, clients on CPU $CLIENT_CPU"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'); load before:$(uptime | sed 's/.*load average://')"
start_coturn $SERVER_CPU $COTURN_PORT $SECRET
# The server as shipped, configured through its documented keys (turn_bench_env, bench/turn/common.sh); EXTRA_ENV
# (A/B of runtime settings only, e.g. EXTRA_ENV='DOTNET_TieredPGO=0') is added to its environment, and the tables say so.
read -r -a EXTRA <<<"${EXTRA_ENV:-}"
taskset -c $SERVER_CPU env "${EXTRA[@]}" $(turn_bench_env $OURS_PORT $SECRET) \
  dotnet "$SERVER_DLL" --urls "http://127.0.0.1:$HTTP_PORT" >"$WORK/ours.log" 2>&1 &
OURS_PID=$!; PIDS+=("$OURS_PID")
taskset -c $CLIENT_CPU turnutils_peer -L 127.0.0.1 -p $PEER_PORT >/dev/null 2>&1 &
PIDS+=("$!")
wait_turn_ready "$OURS_PID" "$COTURN_PORT" "$OURS_PORT"
# A server in use has answered /api/ice (every browser asks before it connects): so has this one, before any step.
curl -fsS -o /dev/null "http://127.0.0.1:$HTTP_PORT/api/ice" || echo "# GET /api/ice failed"
echo "# ours: PID $OURS_PID, $SERVER_DLL; DOTNET_* in its environment: $(tr '\0' '\n' </proc/$OURS_PID/environ | grep -o '^DOTNET_[A-Za-z_]*' | tr '\n' ' ' || true)"

# m n z: sessions, messages per session, ms between messages → offered m*1000/z msg/s (each relayed twice).
if [[ "${1:-}" == quick ]]; then
  STEPS=("10 500 20" "50 1000 5")
else
  STEPS=("10 500 20" "50 500 10" "50 2000 5" "100 1000 5")
fi

# The kernel's UDP receive-buffer overflows (all sockets of the machine; steps run one at a time, so a step's delta
# is mostly its own: where loss comes from a full socket buffer rather than a server dropping).
rcvbuf_errors() { awk '/^Udp:/ { if (h) { print $6; exit } h = 1 }' /proc/net/snmp; }
# Per-socket drop counters (ss skmem d): the servers' listening sockets, their relay port ranges, the echo peer.
# Sockets that are gone (the clients', closed at a step's end) are counted only in the kernel total above.
sock_drops() { # lo hi → dropped datagrams summed over UDP sockets bound to 127.0.0.1:lo..hi
  ss -uamnH 2>/dev/null | awk -v lo="$1" -v hi="$2" '
    /^[A-Z]/ { n = split($4, a, ":"); p = a[n] + 0; keep = (p >= lo && p <= hi); next }
    keep && match($0, /d[0-9]+\)/) { d += substr($0, RSTART + 1, RLENGTH - 2) }
    END { print d + 0 }'
}
drops_snapshot() { echo "$(sock_drops $COTURN_PORT $COTURN_PORT) $(sock_drops $OURS_PORT $OURS_PORT) $(sock_drops 61000 62999) $(sock_drops 59000 60999) $(sock_drops $PEER_PORT $PEER_PORT)"; }
ours_dropped() { curl -fsS "http://127.0.0.1:$HTTP_PORT/metrics" 2>/dev/null | awk '/^ghostchat_turn_dropped_packets_total/ { print $NF }' | head -1; }
run_step() { # server-pid port transport-flag m n z length → "loss% rtt_ms cpu_s relayed recv seconds"
  local pid=$1 port=$2 tflag=$3 m=$4 n=$5 z=$6 len=${7:-1000}
  local before after out t0 t1 kb ka db da attempt
  # uclient ends when its setup gets an error it does not retry, e.g. when it draws the same random channel number for
  # the peer and the peer's port + 1 (1 session in 16,384; both servers answer 400: docs/benchmarks.md). Such a step,
  # which relayed nothing, runs once more; drops.log says so.
  for attempt in 1 2; do
    kb=$(rcvbuf_errors); [[ $pid == "$OURS_PID" ]] && db=$(ours_dropped)
    local sb sa; sb=($(drops_snapshot))
    before=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
    out=$(taskset -c $CLIENT_CPU timeout 300 turnutils_uclient $tflag -W $SECRET -u bench -e 127.0.0.1 -r $PEER_PORT -X -c \
          -m "$m" -n "$n" -l "$len" -z "$z" -p "$port" 127.0.0.1 2>&1 || true)
    after=$(cpu_ticks "$pid"); t1=$(date +%s.%N)
    if grep -q 'tot_send_msgs=' <<<"$out" || ! grep -q 'error' <<<"$out" || [[ $attempt == 2 ]]; then break; fi
    echo "$(date -u +%T) port $port $tflag m=$m n=$n z=$z l=$len: uclient's setup ended ($(grep 'error' <<<"$out" | tail -1)); the step runs again" >>"$WORK/drops.log"
  done
  ka=$(rcvbuf_errors); [[ $pid == "$OURS_PID" ]] && da=$(ours_dropped)
  sa=($(drops_snapshot))
  # Keep uclient's whole output per step, so a step without totals can be read afterwards.
  printf '%s\n' "$out" >"$WORK/uclient-$port${tflag:+-tcp}-m$m-n$n-z$z-l$len.log"
  echo "$(date -u +%T) port $port $tflag m=$m n=$n z=$z l=$len: kernel UDP RcvbufErrors +$((ka - kb)) (full socket buffers at: coturn listener +$((sa[0] - sb[0])), ours listener +$((sa[1] - sb[1])), coturn relays +$((sa[2] - sb[2])), ours relays +$((sa[3] - sb[3])), echo peer +$((sa[4] - sb[4])); the rest at the clients)${db:+; ours dropped by the server +$(( ${da:-0} - db ))}" >>"$WORK/drops.log"
  local sent recv loss rtt
  sent=$(grep -o 'tot_send_msgs=[0-9]*' <<<"$out" | tail -1 | cut -d= -f2); sent=${sent:-0}
  recv=$(grep -o 'tot_recv_msgs=[0-9]*' <<<"$out" | tail -1 | cut -d= -f2); recv=${recv:-0}
  loss=$(grep -o 'Total lost packets [0-9]* ([0-9.]*%)' <<<"$out" | tail -1 | sed 's/.*(\(.*\)%)/\1/'); loss=${loss:-100}
  rtt=$(grep -o 'Average round trip delay [0-9.]* ms' <<<"$out" | tail -1 | awk '{print $5}'); rtt=${rtt:-nan}
  # Each message is relayed twice by the server: client → peer, and the echo peer → client.
  echo "$loss $rtt $(awk -v t=$((after - before)) -v c="$clk" 'BEGIN{printf "%.2f", t/c}') $((sent + recv)) $recv $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')"
}
per_mpkt() { awk -v c="$1" -v p="$2" 'BEGIN{ if (p>0) printf "%.1f", c*1e6/p; else print "nan"}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b+0>0) printf "%.2f", a/b; else print "nan"}'; }

# Warm-up (not reported), the same for both servers: caches, and for ours the JIT's tiers. Tiered compilation
# promotes a method after 30 calls and compiles the optimised code in the background, and per-session code
# (allocate, permissions, channel binding) is called ~10 times per uclient step, so one step is not enough: with
# one, the tiering thread still compiled 7, 5 and 4 ms per second through the next three 500 msg/s steps and nothing
# from the fourth on (bench/turn-idle.sh REPEAT=5, docs/benchmarks.md). WARMUP_ROUNDS steps of 10,000 messages per
# server and transport (default 4) measure the server as it runs after its first minutes, not during them.
for ((w = 0; w < ${WARMUP_ROUNDS:-4}; w++)); do
  for tflag in "" "-t"; do
    run_step $COTURN_PID $COTURN_PORT "$tflag" 10 1000 5 >/dev/null
    run_step $OURS_PID $OURS_PORT "$tflag" 10 1000 5 >/dev/null
  done
done

ROWS=()
GOALS=()
printf '\n%-4s %-5s %-6s %-4s %10s | %8s %8s %12s | %8s %8s %12s | %8s\n' \
  proto m n z "offered/s" "c-loss%" "c-rtt" "c-cpu/Mpkt" "o-loss%" "o-rtt" "o-cpu/Mpkt" "cpu o/c"
for proto in udp tcp; do
  tflag=""; [[ $proto == tcp ]] && tflag="-t"
  for step in "${STEPS[@]}"; do
    read -r m n z <<<"$step"
    read -r cl cr cc cp _ _ <<<"$(run_step $COTURN_PID $COTURN_PORT "$tflag" $m $n $z)"
    read -r ol or oc op _ _ <<<"$(run_step $OURS_PID $OURS_PORT "$tflag" $m $n $z)"
    cper=$(per_mpkt "$cc" "$cp"); oper=$(per_mpkt "$oc" "$op"); r=$(ratio "$oper" "$cper")
    offered=$((m * 1000 / z))
    printf '%-4s %-5s %-6s %-4s %10s | %8s %8s %12s | %8s %8s %12s | %8s\n' \
      $proto $m $n $z $offered "$cl" "$cr" "$cper" "$ol" "$or" "$oper" "$r"
    ROWS+=("| $proto | $m × $n, every $z ms | $offered | $cl | $cr | $cper | $ol | $or | $oper | **$r** |")
    # Goals (issue 19): UDP ≤ 1× coturn's CPU/packet at 500 msg/s, ≤ 0.5× at ≥ 10,000 msg/s; zero loss at every step.
    if [[ $proto == udp && $offered -eq 500 ]]; then
      GOALS+=("| CPU per packet ≤ 1× coturn's at 500 msg/s (UDP) | $r× | $(awk -v r="$r" 'BEGIN{print (r+0>0 && r<=1) ? "met" : "**not met**"}') |")
    elif [[ $proto == udp && $offered -ge 10000 ]]; then
      GOALS+=("| CPU per packet ≤ 0.5× coturn's at $offered msg/s (UDP) | $r× | $(awk -v r="$r" 'BEGIN{print (r+0>0 && r<=0.5) ? "met" : "**not met**"}') |")
    fi
    GOALS+=("| zero loss, $proto at $offered msg/s | $ol % (coturn $cl %) | $(awk -v l="$ol" 'BEGIN{print (l+0==0) ? "met" : "**not met**"}') |")
  done
done

# One allocation as fast as it goes: our C# TURN client (bench/turn/TurnHost --throughput, the same for both servers,
# on the clients' CPU) keeps 32 datagrams of 1,200 bytes in flight through one UDP allocation and a channel to an
# echo peer for 10 s; relayed throughput = payload bytes through the relay both ways / wall time.
tp() { taskset -c $CLIENT_CPU dotnet "$HOST_DLL" --throughput 127.0.0.1:$1 $SECRET 1200 32 10 2>/dev/null || echo "0 0 fail"; }
read -r ctp cback clost <<<"$(tp $COTURN_PORT)"
read -r otp oback olost <<<"$(tp $OURS_PORT)"
echo
echo "one allocation, 32 × 1200 B in flight for 10 s (UDP): coturn $ctp MB/s ($cback echoed, $clost lost), ours $otp MB/s ($oback echoed, $olost lost)"
GOALS+=("| relayed throughput of one allocation ≥ coturn's | $otp vs $ctp MB/s (lost $olost vs $clost) | $(awk -v a="$otp" -v b="$ctp" 'BEGIN{print (a+0>=b+0 && a+0>0) ? "met" : "**not met**"}') |")
echo
echo "allocations per second (GhostChat.Turn client, 400 allocations, 8 at a time, over UDP):"
ca=$(taskset -c $CLIENT_CPU dotnet "$HOST_DLL" --alloc-bench 127.0.0.1:$COTURN_PORT $SECRET 400 8)
oa=$(taskset -c $CLIENT_CPU dotnet "$HOST_DLL" --alloc-bench 127.0.0.1:$OURS_PORT $SECRET 400 8)
echo "  coturn: $ca/s   ours: $oa/s   ratio ours/coturn: $(ratio "$oa" "$ca")"
# GRO (GhostChat:Turn:UdpGro, on as shipped): how many datagrams reached our server coalesced over the whole run.
COALESCED=$(curl -fsS "http://127.0.0.1:$HTTP_PORT/metrics" 2>/dev/null | awk '/^ghostchat_turn_udp_coalesced_total/ { print $NF }' | head -1)
echo "# load after:$(uptime | sed 's/.*load average://')"

echo
echo "### bench/turn.sh${1:+ $1} at $COMMIT, $(date -u '+%Y-%m-%d %H:%M UTC')${EXTRA_ENV:+ — NOT as shipped: $EXTRA_ENV}"
echo
echo "| proto | load (sessions × messages) | offered msg/s | coturn loss % | coturn RTT ms | coturn CPU-s/Mpkt | ours loss % | ours RTT ms | ours CPU-s/Mpkt | CPU ours/coturn |"
echo "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|"
printf '%s\n' "${ROWS[@]}"
echo
echo "| goal (issue 19) | measured | verdict |"
echo "|---|---|---|"
printf '%s\n' "${GOALS[@]}"
echo
echo "Allocations per second: coturn $ca/s, ours $oa/s. Datagrams that reached our server coalesced by UDP GRO (ghostchat_turn_udp_coalesced_total): ${COALESCED:-unknown}. Logs in $WORK."
echo
echo "Where loss came from, per step (kernel receive-buffer overflows vs datagrams the server dropped):"
cat "$WORK/drops.log"
