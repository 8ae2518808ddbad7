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
