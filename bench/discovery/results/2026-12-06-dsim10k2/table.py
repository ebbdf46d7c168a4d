#!/usr/bin/env python3
"""The cold-start table from cold-*.txt (the branch's sim.ts rows), and a least-squares
fit of rounds = a + b log2 N per shape (every run; several runs of a size count each)."""
import glob, math, re

rows = []
for f in sorted(glob.glob('cold-*.txt')):
    if 'stopped' in f:
        continue
    for line in open(f):
        m = re.match(r'^(\d+) \| (seed|chain) \| (.*)\(([\d.]+) s\)\s*$', line)
        if not m:
            continue
        cells = [c.strip() for c in m.group(3).split('|')]
        rows.append((int(m.group(1)), m.group(2), cells, float(m.group(4)), f))
rows.sort(key=lambda r: (r[1] != 'seed', r[0]))
print('| members | start | rounds to all-know-all | msgs/member | KiB/member | max msgs of one member | peak links of one member | mesh hops mean / diameter | heap MiB at all-know-all (B/entry) | heap peak MiB | wall s | file |')
print('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
for n, how, c, wall, f in rows:
    print(f'| {n} | {how} | {c[0]} | {c[1]} | {c[2]} | {c[3]} | {c[4]} | {c[8]} | {c[9]} | {c[10]} | {wall:.0f} | {f} |')
for how in ('seed', 'chain'):
    pts = [(math.log2(n), float(c[0])) for n, h, c, _, _ in rows if h == how and c[0] != '—']
    if len(pts) < 2:
        continue
    k = len(pts)
    mx = sum(x for x, _ in pts) / k
    my = sum(y for _, y in pts) / k
    b = sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
    a = my - b * mx
    ss = sum((y - my) ** 2 for _, y in pts)
    r2 = 1 - sum((y - a - b * x) ** 2 for x, y in pts) / ss if ss else float('nan')
    print(f'\n{how}: rounds = {a:.1f} + {b:.2f} log2 N (R² {r2:.2f}, {k} runs)')
