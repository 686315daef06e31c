#!/usr/bin/env python3
"""CPU used by everything on the machine that the benchmark did not start: the noise of a row.

  cpu_other.py snapshot ROOT_PID FILE   # ticks of every user-space process outside ROOT_PID's tree
  cpu_other.py delta BEFORE AFTER       # ticks those processes used in between

Kernel threads (ksoftirqd, kworker: loopback TCP partly runs there) are left out, as is the
benchmark's own process tree (wrk and the servers are measured separately). A process counts
utime+stime plus the cutime+cstime of the children it reaped, so short-lived compiler processes
of a build running meanwhile are counted through their parent.
"""
import os
import sys


def processes():
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                text = f.read()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        # fields[0] is field 3 (state): field N is fields[N - 3]
        ppid = int(fields[1])
        ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
        out[int(name)] = (ppid, ticks)
    return out


def snapshot(root, path):
    procs = processes()
    children = {}
    for pid, (ppid, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    ours, stack = set(), [root]
    while stack:
        pid = stack.pop()
        if pid in ours:
            continue
        ours.add(pid)
        stack.extend(children.get(pid, []))
    with open(path, "w") as f:
        for pid, (ppid, ticks) in procs.items():
            if pid in ours or pid == 2 or ppid == 2:
                continue
            f.write(f"{pid} {ticks}\n")


def load(path):
    with open(path) as f:
        return {int(a): int(b) for a, b in (line.split() for line in f if line.strip())}


def delta(before_path, after_path):
    before, after = load(before_path), load(after_path)
    total = 0
    for pid, ticks in after.items():
        total += max(0, ticks - before.get(pid, 0))
    # A process that ended in between reaches its parent's cutime+cstime with all its ticks,
    # including those it used before the row: take those back out, or a build's long-lived
    # child reaped during a row counts minutes of CPU (noise readings of 1,000 % and more).
    for pid, ticks in before.items():
        if pid not in after:
            total -= ticks
    print(max(0, total))


if __name__ == "__main__":
    if sys.argv[1] == "snapshot":
        snapshot(int(sys.argv[2]), sys.argv[3])
    elif sys.argv[1] == "delta":
        delta(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
