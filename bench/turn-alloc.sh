#!/usr/bin/env bash
# Allocation budget of the UDP relay path: bench/turn/RelayBench under BenchmarkDotNet's MemoryDiagnoser (a real
# GhostChat.Turn server on 127.0.0.1, one allocation, datagrams relayed both ways through loopback sockets; one
# operation = one relayed packet; allocations counted on every thread of the process). Budget: 0 bytes per relayed
# packet on every path measured (batched Linux path and portable fallback). Exits 1 when a path is over budget or the
# benchmark fails; prints BenchmarkDotNet's table and one verdict line per path.
#
#   bench/turn-alloc.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
WORK=$(mktemp -d /tmp/ghostchat-relay-alloc.XXXXXX)
BUDGET_BYTES=0
dotnet build bench/turn/RelayBench -c Release -v q -nologo >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
dotnet bench/turn/RelayBench/bin/Release/net10.0/RelayBench.dll "$WORK" >"$WORK/run.log" 2>&1 || { tail -40 "$WORK/run.log"; echo "the benchmark failed (log: $WORK/run.log)"; exit 1; }
REPORT=$(ls "$WORK"/results/*-report-github.md)
CSV=$(ls "$WORK"/results/*-report.csv)
echo "### bench/turn-alloc.sh at $(git rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC'), load:$(uptime | sed 's/.*load average://')"
sed -n '/^| Method/,$p' "$REPORT"
echo
# The CSV's Allocated column: "0 B", "-" (nothing) or e.g. "12 B" / "1.2 KB" per operation (one relayed packet).
python3 - "$CSV" "$BUDGET_BYTES" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline='')))
budget = float(sys.argv[2])
units = {'B': 1, 'KB': 1024, 'MB': 1024 ** 2}
failed = False
for r in rows:
    raw = r.get('Allocated', '').strip()
    if raw in ('', '-', '0'):
        value = 0.0
    else:
        number, unit = raw.split()
        value = float(number.replace(',', '')) * units[unit]
    ok = value <= budget
    failed |= not ok
    print(f"Batched={r.get('Batched')}: {raw or '0 B'} per relayed packet, budget {budget:g} B: {'met' if ok else 'NOT MET'}")
sys.exit(1 if failed else 0)
PY
