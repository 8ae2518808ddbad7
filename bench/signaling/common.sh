# Shared by the signaling bench scripts (sourced, not run): process bookkeeping by PID, free ports,
# start-up waits, and the server as shipped with only its listening address, its log level and the
# per-IP / per-socket limits lifted (every generator socket comes from 127.0.0.1 and sends and
# receives far more than a browser would); these are the product's own options. Callers set ROOT, WORK and SCRIPT_NAME first.
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
SERVER_DLL=${GHOSTCHAT_SERVER_DLL:-$ROOT/src/GhostChat.Server/bin/Release/net10.0/GhostChat.Server.dll}
CLI_DLL=${GHOSTCHAT_CLI_DLL:-$ROOT/src/GhostChat.Cli/bin/Release/net10.0/ghostchat.dll}

say() { printf '%s\n' "$*" >&2; }
die() { say "$SCRIPT_NAME: $*"; exit 1; }

PIDS=()
stop_pid() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
stop_all() { local pid; for pid in "${PIDS[@]}"; do stop_pid "$pid"; done; }

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

wait_for_line() { # file pattern pid
  for _ in $(seq 300); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { cat "$1" >&2; die "process $3 exited during start-up"; }
    sleep 0.1
  done
  cat "$1" >&2; die "process $3 not ready after 30 s"
}

# The environment every benchmarked GhostChat server gets (plus the caller's own settings).
GHOSTCHAT_BENCH_ENV=(
  GhostChat__Turn__Enabled=false Logging__LogLevel__Default=Warning
  GhostChat__Signaling__ConcurrentLimit=1000000
  GhostChat__Signaling__Limits__MaxSockets=1000000
  GhostChat__Signaling__Limits__MaxSocketsPerIp=1000000
  GhostChat__Signaling__Limits__ConnectsPerSecondPerIp=1000000
  GhostChat__Signaling__Limits__ConnectBurstPerIp=1000000
  GhostChat__Signaling__Limits__MessagesPerSecond=1000000
  GhostChat__Signaling__Limits__MessageBurst=1000000
  # Per-socket outbound queues (512 frames, 1 MiB): a generator socket receiving 1,000 msg/s that
  # falls half a second behind on a loaded core would be closed as a slow consumer. The node's
  # budget for all queues together (MaxOutboundBytesTotal, 64 MiB) stays as shipped.
  GhostChat__Signaling__Limits__MaxOutboundFramesPerSocket=1000000
  GhostChat__Signaling__Limits__MaxOutboundBytesPerSocket=67108864
)

build_release() {
  say "building Release (GhostChat.Server, ghostchat CLI) …"
  dotnet build "$ROOT/src/GhostChat.Server" -c Release -v q -nologo >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; die "server build failed"; }
  dotnet build "$ROOT/src/GhostChat.Cli" -c Release -v q -nologo >>"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; die "CLI build failed"; }
}

json_field() { node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));console.log(process.argv[2].split(".").reduce((o,k)=>o?.[k],r))' "$1" "$2"; }

# The caller's own GhostChat__* settings: the servers inherit the caller's environment, so
# `GhostChat__Signaling__SocketLoop=true bench/signaling.sh` measures that configuration; the table
# names them after the commit, so a table never passes for the server as shipped when it is not.
caller_settings() {
  local s; s=$(env | grep -E '^GhostChat__' | sort | tr '\n' ' ' || true)
  [ -z "$s" ] || printf ' with %s' "${s% }"
}

# The commit the measured server was built from, "+changes" when the tree differs from it.
measured_commit() {
  local c; c=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
  git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null || c="$c+changes"
  [ -n "${GHOSTCHAT_SERVER_DLL:-}" ] && c="$GHOSTCHAT_SERVER_DLL"
  echo "$c"
}
