#!/usr/bin/env bash
# Allocation budget of the signaling relay path: bench/signaling/AllocBench runs the real GhostChat server (the
# product's composition root, runtime settings and socket loop as shipped) in its own process on 127.0.0.1 and relays
# OFFERs with a 500-byte payload between two peers on raw loopback sockets, in bursts of 16; the peers allocate
# nothing per message, so the bytes allocated on every thread of the process, divided by the messages, are the
# server's per relayed message (its idle timers included, spread over 200,000 messages). Exits 1 above the budget
# or when the benchmark fails. Also prints the process's CPU time per message (server and both peers: a
# rough A/B of the path on a quiet machine, not the benchmark of record, which is bench/signaling.sh).
#
#   bench/signaling-alloc.sh            # WARMUP=50000 MESSAGES=200000 BUDGET_BYTES=... to change
#   ALLOC_TYPES=1 bench/signaling-alloc.sh   # also name the types allocated (the runtime's sampled allocation events)
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
BUDGET_BYTES=${BUDGET_BYTES:-1}
WORK=$(mktemp -d /tmp/ghostchat-signaling-alloc.XXXXXX)
dotnet build bench/signaling/AllocBench -c Release -v q -nologo >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
OUT=$(dotnet bench/signaling/AllocBench/bin/Release/net10.0/AllocBench.dll "${WARMUP:-50000}" "${MESSAGES:-200000}") || { echo "$OUT"; echo "the benchmark failed"; exit 1; }
echo "### bench/signaling-alloc.sh at $(git rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC'), load:$(uptime | sed 's/.*load average://')"
echo "$OUT"
python3 - "$OUT" "$BUDGET_BYTES" <<'PY'
import re, sys
value = float(re.search(r'([0-9.]+) bytes per relayed message', sys.argv[1]).group(1))
budget = float(sys.argv[2])
ok = value <= budget
print(f"{value:g} B per relayed message, budget {budget:g} B: {'met' if ok else 'NOT MET'}")
sys.exit(0 if ok else 1)
PY
