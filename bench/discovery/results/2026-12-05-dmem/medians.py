#!/usr/bin/env python3
"""Medians of the A and B logs given (CPU after ready, by thread, verification ms, ready→all, KiB, frames)."""
import re, statistics, sys

cols = {"ready→all": [], "after ready": [], "main": [], "helpers": [], "engines": [], "verify ms": [], "KiB": [], "frames": [], "kill→all": []}
rows = {"A": {k: [] for k in cols}, "B": {k: [] for k in cols}}
for path in sys.argv[1:]:
    text = open(path).read()
    run = re.search(r"^run 1 n=(\d+): .*", text, re.M)
    if not run:
        continue
    side = "A" if re.search(r"-A\d+\.log$", path) else "B"
    r, n = run.group(0), int(run.group(1))
    t = re.search(r"by thread: main (\d+), V8/libuv helpers (\d+), .*?engines\) (\d+)", text).groups()
    v = {
        "ready→all": int(re.search(r"ready→all (\d+)", r).group(1)),
        "after ready": int(re.search(r"after ready (\d+)", r).group(1)),
        "main": int(t[0]), "helpers": int(t[1]), "engines": int(t[2]),
        "verify ms": float(re.search(r"verification wall time per agent ([\d.]+)", text).group(1)),
        "KiB": float(re.search(r"^\d+ \| .*", text, re.M).group(0).split(" | ")[4].split(" ")[0]),
        "frames": int(re.search(r"frames sent (\d+),", text).group(1)) / n,
        "kill→all": int(re.search(r"kill→all (\d+)", r).group(1)),
    }
    for k in cols:
        rows[side][k].append(v[k])
for side in "AB":
    print(side, f"({len(rows[side]['main'])} runs)", ", ".join(f"{k} {statistics.median(x):.1f} [{min(x):.0f}-{max(x):.0f}]" for k, x in rows[side].items() if x))
