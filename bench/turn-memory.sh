#!/usr/bin/env bash
# Memory and file descriptors per TURN allocation: a GhostChat.Turn server (bench/turn/TurnHost) in its own
# process; another process makes N UDP allocations on it and holds them. Prints the server's RSS (VmRSS) and
# open descriptors before and after, and the difference per allocation. Measured, never asserted.
# Usage: bench/turn-memory.sh [N=5000]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5000}
SECRET=memsecret-0123456789
PORT=$(( 32000 + ($$ % 2000) ))
dotnet build bench/turn/TurnHost -c Release -v q -nologo >/dev/null
DLL=$PWD/bench/turn/TurnHost/bin/Release/net10.0/TurnHost.dll
WORK=$(mktemp -d /tmp/ghostchat-turn-memory.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
mkfifo "$WORK/hold"
dotnet "$DLL" --listen 127.0.0.1 --port "$PORT" --secret "$SECRET" --min-port 20000 --max-port 39999 \
  --user-quota 100000 --source-quota 100000 --unauth-rate 100000 >"$WORK/server.log" 2>&1 &
SERVER=$!; PIDS+=("$SERVER")
until grep -q READY "$WORK/server.log"; do sleep 0.2; done
sleep 2
rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVER/status"; }
fds() { ls "/proc/$SERVER/fd" | wc -l; }
RSS0=$(rss); FD0=$(fds)
dotnet "$DLL" --alloc-hold "127.0.0.1:$PORT" "$SECRET" "$N" <"$WORK/hold" >"$WORK/client.log" 2>&1 &
PIDS+=("$!")
exec 3>"$WORK/hold"
until grep -q HELD "$WORK/client.log"; do sleep 0.5; done
sleep 3
RSS1=$(rss); FD1=$(fds)
echo "allocations=$N server_rss_kib: before=$RSS0 after=$RSS1 per_allocation=$(( (RSS1 - RSS0) / N )) KiB; fds: before=$FD0 after=$FD1 per_allocation=$(( (FD1 - FD0) / N ))"
exec 3>&-
