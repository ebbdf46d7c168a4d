#!/usr/bin/env python3
"""Cuts a `perf sched timehist` of the CLI command (clisched.sh) into the
bench process's transfer phases: the stretches between the baseline programs
(iperf3, the C request/response loop) that the bench runs after each repeat.
Per phase: its length, and the CPU time, slices and CPUs of each busy thread
of the bench process (the parent `node` that spawned the programs) and of
the target. Usage: clisum.py TIMEHIST_TEXT"""
import re
import sys
from collections import defaultdict

rx = re.compile(r"^\s*(\d+\.\d+)\s+\[(\d+)\]\s+(.*?)\[(\d+)(?:/(\d+))?\]\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$")
sl = []
for line in open(sys.argv[1]):
    m = rx.match(line)
    if m:
        sl.append((float(m[1]), int(m[2]), m[3].strip(), int(m[4]), int(m[5] or m[4]), float(m[7]), float(m[8])))
base = [s for s in sl if re.match(r"(iperf3|request-resp|reqresp)", s[2])]
if not base:
    sys.exit("no baseline programs in the trace: " + ", ".join(sorted({s[2] for s in sl})[:40]))
# Processes: the busiest node processes are the bench and its target.
cpu_by_pid = defaultdict(float)
for s in sl:
    if s[2] == "node" or s[2].startswith("node"):
        cpu_by_pid[s[4]] += s[6]
# Phases: gaps of more than 20 ms between baseline slices.
times = sorted(s[0] for s in base)
gaps = [(a, b) for a, b in zip(times, times[1:]) if b - a > 0.02]
first = sl[0][0]
phases = [(first, times[0])] + gaps
for i, (a, b) in enumerate(phases):
    per = defaultdict(lambda: [0.0, 0, defaultdict(int), 0.0])
    for t, cpu, name, tid, pid, sd, run in sl:
        if a < t <= b and pid in cpu_by_pid:
            e = per[(pid, tid)]
            e[0] += run
            e[1] += 1
            e[2][cpu] += 1
            e[3] += sd
    busy = sorted(per.items(), key=lambda kv: -kv[1][0])
    print(f"phase {i}: {(b - a) * 1e3:.1f} ms")
    for (pid, tid), (run, n, cpus, sd) in busy[:7]:
        if run < 1.0:
            continue
        where = " ".join(f"cpu{c}:{k}" for c, k in sorted(cpus.items()))
        print(f"  pid {pid} tid {tid}: {run:.1f} ms in {n} slices ({where}), sch delay {sd:.1f} ms")
