#!/usr/bin/env python3
"""Per chunk of bench/probes/read-slow-mode.ts, from `perf sched timehist`
(CLOCK_MONOTONIC): per thread of the probe and of its target, run slices and
run time per CPU, scheduling delay (woken -> on a CPU), and each CPU's idle
time. Usage: schedsum.py PROBE_OUTPUT TIMEHIST_TEXT"""
import re
import sys
from collections import defaultdict

probe, hist = sys.argv[1], sys.argv[2]
chunks = []
pid = tpid = None
engine = set()
for line in open(probe):
    m = re.match(r"# pid (\d+) target pid (\d+); engine threads ([\d,]*)", line)
    if m:
        pid, tpid = int(m[1]), int(m[2])
        engine = {int(t) for t in m[3].split(",") if t}
    m = re.match(r"round (\d+) READ (\d+): ([\d.]+) µs/transfer.*mono (\d+)-(\d+)", line)
    if m:
        chunks.append((int(m[1]), int(m[2]), float(m[3]), int(m[4]) / 1e9, int(m[5]) / 1e9, line.strip()))

slice_re = re.compile(r"^\s*(\d+\.\d+)\s+\[(\d+)\]\s+(.*?)\[(\d+)(?:/(\d+))?\]\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$")
slices = []  # (end time s, cpu, name, tid, pid, sch delay ms, run ms)
for line in open(hist):
    m = slice_re.match(line)
    if m:
        slices.append((float(m[1]), int(m[2]), m[3].strip(), int(m[4]), int(m[5] or m[4]),
                       float(m[7]), float(m[8])))


def who(tid, p):
    if tid == pid:
        return "caller"
    if tid in engine:
        return f"init-io({tid})"
    if p == tpid:
        return f"target({tid})"
    return None


for rnd, size, us, a, b, line in chunks:
    print(line)
    per = defaultdict(lambda: {"n": 0, "cpu": defaultdict(float), "ncpu": defaultdict(int), "sd": 0.0, "sdmax": 0.0, "sdn": 0})
    idle = defaultdict(float)
    other = defaultdict(float)
    for t, cpu, name, tid, p, sd, run in slices:
        if t < a or t > b:
            continue
        if tid == 0:
            idle[cpu] += run
            continue
        w = who(tid, p)
        if w is None:
            other[cpu] += run
            continue
        s = per[w]
        s["n"] += 1
        s["cpu"][cpu] += run
        s["ncpu"][cpu] += 1
        s["sd"] += sd
        s["sdmax"] = max(s["sdmax"], sd)
        if sd > 0:
            s["sdn"] += 1
    span = (b - a) * 1e3
    print(f"  window {span:.1f} ms; idle ms per cpu " + ", ".join(f"{c}: {v:.1f}" for c, v in sorted(idle.items()))
          + "; other tasks ms per cpu " + ", ".join(f"{c}: {v:.1f}" for c, v in sorted(other.items())))
    for w, s in sorted(per.items()):
        if s["n"] < 20:
            continue
        cpus = ", ".join(f"cpu{c} {s['ncpu'][c]} slices {v:.1f} ms" for c, v in sorted(s["cpu"].items()))
        print(f"  {w:16} slices {s['n']:5}; {cpus}; sch delay {s['sd']:.1f} ms "
              f"({s['sd'] * 1e3 / max(s['sdn'], 1):.1f} µs per wake-up, max {s['sdmax'] * 1e3:.0f} µs)")
