#!/usr/bin/env python3
"""From schedsum.py's output (raw/sched-*.sum.txt): the READ chunks of a size
from round FIRST on (after the process's warm-up), split by their median µs
per transfer at CUT (slow above it); per group: how many, their medians, linger
hits, and the CPU time per transfer of the initiator's I/O thread and of the
target's I/O thread, and on how many chunks those two shared a CPU.
Usage: modes.py SUM SIZE CUT [FIRST=5]"""
import re
import sys
from statistics import median

path, size, cut = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
first = int(sys.argv[4]) if len(sys.argv) > 4 else 5
chunks, cur = [], None
for line in open(path):
    m = re.match(r"round (\d+) READ (\d+):.*median ([\d.]+).*linger hits (\d+)", line)
    if m:
        cur = {"round": int(m[1]), "size": int(m[2]), "med": float(m[3]), "hits": int(m[4])} if int(m[2]) == size and int(m[1]) >= first else None
        if cur:
            chunks.append(cur)
        continue
    m = re.match(r"\s+(init-io|target)\(\d+\)\s+slices\s+\d+; (.*); sch delay", line)
    if m and cur:
        cpus = {int(c): float(ms) for c, _, ms in re.findall(r"cpu(\d) (\d+) slices ([\d.]+) ms", m[2])}
        cur[m[1]] = sum(cpus.values())
        cur[m[1] + "-cpu"] = max(cpus, key=cpus.get)
for name, group in (("fast", [c for c in chunks if c["med"] <= cut]), ("slow", [c for c in chunks if c["med"] > cut])):
    if not group:
        print(f"{name}: 0 chunks")
        continue
    io = [c["init-io"] for c in group if "init-io" in c]
    tg = [c["target"] for c in group if "target" in c]
    same = sum(1 for c in group if c.get("init-io-cpu") is not None and c.get("init-io-cpu") == c.get("target-cpu"))
    print(f"{name}: {len(group)} chunks (rounds {' '.join(str(c['round']) for c in group)}); median µs {median(c['med'] for c in group):.1f}; "
          f"linger hits {median(c['hits'] for c in group):.0f}; init I/O thread {median(io) if io else float('nan'):.1f} µs/transfer, "
          f"target I/O thread {median(tg) if tg else float('nan'):.1f} µs/transfer; the two on one CPU in {same} of {len(group)}")
