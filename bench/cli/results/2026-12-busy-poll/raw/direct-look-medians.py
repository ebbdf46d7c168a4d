# Medians of the direct-look A/B runs (direct-look-ab{1,2,3}.txt), per regime
# of the spinning C floor in the same run: "fast" where its 4 KiB READ made
# > 0.4 GB/s (~9 us), "slow" where 0.2-0.4 (~15 us); a run whose floor
# collapsed (< 0.2) is left out. Run: python3 direct-look-medians.py
import re, statistics as st, os

here = os.path.dirname(os.path.abspath(__file__))
runs = []
for f in ["direct-look-ab1.txt", "direct-look-ab2.txt", "direct-look-ab3.txt"]:
    cur = None
    for line in open(os.path.join(here, f)):
        m = re.match(r"== (\w+) pair (\d+)", line)
        if m:
            cur = {"v": m[1], "cells": [], "floor": []}
            runs.append(cur)
            continue
        t = line.split()
        if not t or cur is None:
            continue
        if t[0] in ("4096", "16384", "65536"):
            cur["cells"].append((int(t[0]), float(t[3])))
        if t[0] == "socket":
            cur["floor"].append(float(t[-1]))
ops = ["READ"] * 3 + ["WRITE"] * 3
res = {}
for r in runs:
    f = r["floor"][0]
    regime = "fast" if f > 0.4 else "slow" if f > 0.2 else None
    if regime is None:
        continue
    for i, (b, us) in enumerate(r["cells"]):
        res.setdefault((regime, ops[i], b, r["v"]), []).append(us)
for regime in ("fast", "slow"):
    for op in ("READ", "WRITE"):
        for b in (4096, 16384, 65536):
            o = sorted(res.get((regime, op, b, "old"), []))
            n = sorted(res.get((regime, op, b, "new"), []))
            print(f"{regime} {op} {b}: old {st.median(o):.1f} us {o}  new {st.median(n):.1f} us {n}")
