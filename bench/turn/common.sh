# Shared by the TURN bench scripts (sourced, not run).

# wait_turn_ready OURS_PID PORT... : until each port answers a STUN Binding on 127.0.0.1 (turnutils_stunclient);
# exits with our server's log if our server (OURS_PID, logging to $WORK/ours.log) stops meanwhile.
wait_turn_ready() {
  local ours=$1 port; shift
  for port in "$@"; do
    for _ in $(seq 150); do
      if timeout 3 turnutils_stunclient -p "$port" 127.0.0.1 2>/dev/null | grep -q "reflexive"; then break; fi
      kill -0 "$ours" 2>/dev/null || { cat "$WORK/ours.log"; exit 1; }
      sleep 0.2
    done
  done
}

# turn_bench_env PORT SECRET : the documented GhostChat__Turn__* keys bench/turn.sh runs the server with (README,
# "Configuration"): loopback only, the benchmark's secret and realm, loopback peers allowed, quotas and the 401 rate
# limit raised because every client comes from 127.0.0.1 (coturn 4.6.1 has no such limits), no per-allocation cap.
turn_bench_env() {
  echo GhostChat__Turn__ListenAddresses__0=127.0.0.1 GhostChat__Turn__AdvertisedAddress=127.0.0.1 \
    GhostChat__Turn__UdpPort="$1" GhostChat__Turn__TcpPort="$1" \
    GhostChat__Turn__Secrets__0="$2" GhostChat__Turn__Realm=bench.local GhostChat__Turn__AllowedPeers__0=127.0.0.1/32 \
    GhostChat__Turn__RelayMinPort=59000 GhostChat__Turn__RelayMaxPort=60999 \
    GhostChat__Turn__MaxAllocationsPerUser=100000 GhostChat__Turn__MaxAllocationsPerSource=100000 \
    GhostChat__Turn__MaxStreamConnectionsPerSource=100000 GhostChat__Turn__MaxBytesPerSecondPerAllocation=0 \
    GhostChat__Turn__UnauthorizedPerSecondPerSource=100000
}

# port_used PORT : true when a UDP or TCP socket on this machine has PORT as its local port, in any state (an
# established connection's local port too: the kernel's ephemeral ports overlap the benches' ranges).
port_used() { ss -Haun "sport = :$1" | grep -q . || ss -Hatn "sport = :$1" | grep -q .; }

# free_tcp_port : a TCP port on 127.0.0.1 that was free a moment ago (for a server's HTTP listener).
free_tcp_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_coturn CPU PORT SECRET : coturn 4.6.1 as every TURN bench runs it (loopback, the benchmark's secret and
# realm, loopback peers allowed, relay ports 61000–62999, no TLS/DTLS/CLI), pinned to CPU, its files under
# $WORK/coturn, its log $WORK/coturn.log; sets COTURN_PID and adds it to PIDS (stopped by the caller's trap).
start_coturn() {
  mkdir -p "$WORK/coturn"
  taskset -c "$1" turnserver -n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port="$2" \
    --min-port=61000 --max-port=62999 --use-auth-secret --static-auth-secret="$3" --realm=bench.local --fingerprint \
    --allow-loopback-peers --no-cli --no-tls --no-dtls --log-file=stdout --simple-log \
    --pidfile="$WORK/coturn/turnserver.pid" --userdb="$WORK/coturn/turndb" >"$WORK/coturn.log" 2>&1 &
  COTURN_PID=$!
  PIDS+=("$COTURN_PID")
}
