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
