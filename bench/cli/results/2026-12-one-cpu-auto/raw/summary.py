#!/usr/bin/env python3
"""Medians of Avg Lat. (µs) per variant, op and block in ab.sh outputs; pairs where B < A."""
import re
import statistics
import sys

for path in sys.argv[1:]:
    runs = {}  # (variant, op, block) -> [µs per round]
    loads = []
    v = op = None
    for line in open(path):
        m = re.match(r"== (\w) round \d+ \S+ load (\S+)", line)
        if m:
            v = m.group(1)
            loads.append(float(m.group(2)))
            continue
        m = re.match(r"TCP (READ|WRITE)", line)
        if m:
            op = m.group(1)
            continue
        f = line.split()
        if v and op and len(f) >= 4 and f[0].isdigit():
            runs.setdefault((v, op, f"{f[0]}x{f[1]}"), []).append(float(f[3]))
    print(f"{path}: load {min(loads):.2f}-{max(loads):.2f}")
    for key in sorted({(o, b) for (_, o, b) in runs}, key=lambda k: (k[0], int(k[1].split('x')[0]), k[1])):
        a = runs.get(("A",) + key, [])
        b = runs.get(("B",) + key, [])
        c = runs.get(("C",) + key, [])
        wins = sum(1 for x, y in zip(a, b) if y < x)
        line = (f"  {key[0]:5} {key[1]:>12}  A median {statistics.median(a):7.1f} ({min(a)}-{max(a)})"
                f"  B median {statistics.median(b):7.1f} ({min(b)}-{max(b)})  B<A in {wins}/{min(len(a), len(b))}")
        if c:
            line += f"  C median {statistics.median(c):7.1f} ({min(c)}-{max(c)})"
        print(line)
