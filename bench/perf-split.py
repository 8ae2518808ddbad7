#!/usr/bin/env python3
"""Where a server's CPU goes, from a `perf record -g` of its whole process (issue 19's profiles).

    bench/perf-split.py PERF_DATA UNITS LABEL [UNIT_NAME]

Reads `perf script` of PERF_DATA (cpu-clock samples with call chains) and prints, per UNIT (a relayed packet or
message: UNITS of them happened while perf recorded), the sampled CPU time split by thread (user / kernel) and the
kernel's share by the system call it was in (send: send, sendto, sendmsg, sendmmsg, write; receive: recv, recvfrom,
recvmsg, recvmmsg, read; wait: epoll_wait, futex and the scheduling around sleeps; sched_yield; other: interrupts, softirqs
outside a system call, page faults and the rest). Markdown tables, for docs/benchmarks.md.

cpu-clock samples land in the kernel's context-switch tail (finish_task_switch) for time spent switching: those are
counted under the system call that slept (epoll_wait, futex) as perf saw them.
"""
import os
import re
import subprocess
import sys
from collections import defaultdict

SEND = {"send", "sendto", "sendmsg", "sendmmsg", "write", "writev"}
RECV = {"recv", "recvfrom", "recvmsg", "recvmmsg", "read", "readv"}
WAIT = {"epoll_wait", "epoll_pwait", "epoll_pwait2", "futex", "nanosleep", "clock_nanosleep", "poll", "ppoll"}
FRAME = re.compile(r"^\s*[0-9a-f]+ (\S+)")


def frame_name(line):
    m = FRAME.match(line)
    return m.group(1) if m else ""


def syscall_of(chain):
    """The system call a kernel sample is in: the libc wrapper that entered the kernel (recvmsg for __libc_recvmsg,
    sendmmsg for __sendmmsg), or else the kernel's entry frame (__x64_sys_epoll_wait, __sys_recvmsg); None when the
    sample is not inside a system call (an interrupt, a fault)."""
    names = [frame_name(l) for l in chain]
    if "entry_SYSCALL_64_after_hwframe" not in names:
        return None
    i = names.index("entry_SYSCALL_64_after_hwframe")
    if i + 1 < len(names) and names[i + 1] and not names[i + 1].startswith("[") and names[i + 1] != "[unknown]":
        wrapper = re.sub(r"^(?:__GI_)?_*(?:libc_)?", "", names[i + 1])
        wrapper = re.sub(r"(?:_nocancel|64)$", "", wrapper)
        if re.fullmatch(r"[a-z_]+", wrapper):
            return wrapper
    for name in reversed(names[:i]):
        if name in ("do_syscall_64", "x64_sys_call"):
            continue
        return re.sub(r"^_*(?:x64_|se_|do_)?sys_", "", name)
    return None


def thread_kind(comm):
    """Groups the runtime's many workers under one name; our own threads and coturn's keep theirs."""
    comm = comm.strip()
    for prefix in (".NET TP Worker", ".NET Tiered Com", ".NET Timer", ".NET BGC", ".NET Server GC", "signaling-loop"):
        if comm.startswith(prefix):
            return prefix
    return comm


def samples(path):
    """Yields (comm, in_kernel, syscall or None) per sample."""
    run = subprocess.run(["perf", "script", "-i", path, "-F", "comm,ip,sym,dso"], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"perf-split: perf script could not read {path}: {run.stderr.strip()[:300]}")
    out = run.stdout
    for block in out.split("\n\n"):
        lines = [l for l in block.splitlines() if l.strip()]
        if not lines:
            continue
        comm = lines[0].strip()
        chain = lines[1:]
        if not chain:
            continue
        in_kernel = "[kernel.kallsyms]" in chain[0]
        call = None
        if in_kernel:
            call = syscall_of(chain)
        yield comm, in_kernel, call


def group(call):
    if call is None:
        return "other"
    if call in SEND:
        return "send"
    if call in RECV:
        return "receive"
    if call in WAIT or "futex" in call or call.startswith("epoll"):
        return "wait"
    if call == "sched_yield":
        return "yield"
    return "other"


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    path, label = sys.argv[1], sys.argv[3]
    try:
        units = int(sys.argv[2])
    except ValueError:
        sys.exit(f"perf-split: UNITS must be a whole number, not {sys.argv[2]!r}")
    unit = sys.argv[4] if len(sys.argv) > 4 else "packet"
    if not os.path.isfile(path):
        sys.exit(f"perf-split: no perf data at {path}")
    freq = 0
    header = subprocess.run(["perf", "report", "-i", path, "--header-only"], capture_output=True, text=True).stdout
    m = re.search(r"sample_freq \} = (\d+)", header)
    freq = int(m.group(1)) if m else 0
    if units <= 0 or freq <= 0:
        sys.exit(f"perf-split: no {unit}s or no sampling frequency in {path}")
    per_thread = defaultdict(lambda: [0, 0])
    kernel_by = defaultdict(int)
    total = 0
    for comm, in_kernel, call in samples(path):
        total += 1
        per_thread[thread_kind(comm)][1 if in_kernel else 0] += 1
        if in_kernel:
            kernel_by[group(call)] += 1
    if total == 0:
        sys.exit(f"perf-split: no samples in {path} (was the process running?)")
    us = 1e6 / freq / units  # µs of CPU per unit per sample
    print(f"#### {label}: {total} samples at {freq} Hz over {units} {unit}s = {total * us:.2f} µs of CPU per {unit}")
    print()
    print(f"| thread | user µs/{unit} | kernel µs/{unit} | share |")
    print("|---|--:|--:|--:|")
    for name, (user, kern) in sorted(per_thread.items(), key=lambda kv: -sum(kv[1])):
        if (user + kern) / total < 0.005:
            continue
        print(f"| {name} | {user * us:.2f} | {kern * us:.2f} | {100 * (user + kern) / total:.1f} % |")
    kern_total = sum(kernel_by.values())
    print(f"| **whole process** | **{(total - kern_total) * us:.2f}** | **{kern_total * us:.2f}** | 100 % |")
    print()
    print(f"| kernel time by system call | µs/{unit} | share of the process |")
    print("|---|--:|--:|")
    names = {"send": "send (send/sendto/sendmsg/sendmmsg/write: includes loopback delivery to the receiver)",
             "receive": "receive (recv/recvfrom/recvmsg/recvmmsg/read)",
             "wait": "wait (epoll_wait, futex: sleeping, waking, switching)",
             "yield": "sched_yield (idle workers spinning)",
             "other": "other (interrupts, faults, the rest)"}
    for key in ("send", "receive", "wait", "yield", "other"):
        print(f"| {names[key]} | {kernel_by[key] * us:.2f} | {100 * kernel_by[key] / total:.1f} % |")
    print()
    # One line a script can read: label, µs per unit in all, in the kernel, in the busiest thread's kernel time.
    busiest = max(per_thread.items(), key=lambda kv: sum(kv[1]))
    print(f"<!-- split {label} total={total * us:.3f} kernel={kern_total * us:.3f} "
          f"busiest={busiest[0].replace(' ', '_')} busiest_kernel={busiest[1][1] * us:.3f} -->")


if __name__ == "__main__":
    main()
