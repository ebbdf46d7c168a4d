#!/usr/bin/env python3
"""Medians per side and per order of micro-ab.sh's logs, and pairs won (lower is better).
Usage: micro-table.py LOGPREFIX"""
import glob, re, statistics, sys
pre = sys.argv[1]
cols = ['wall', 'process', 'main', 'helpers', 'engine']
runs = {}  # (pair, side) -> {(preload, op): [values]}, plus start/load
for path in sorted(glob.glob(pre + '-*.log')):
    m = re.search(r'-(\d+)([AB])\.log$', path)
    pair, side = int(m.group(1)), m.group(2)
    rows, info = {}, ''
    for line in open(path):
        s = line.split()
        if line.startswith('start'):
            info = line.strip()
        if len(s) == 7 and s[0].isdigit() and s[1] in ('load', 'invalidate'):
            rows[(int(s[0]), s[1])] = [float(x) for x in s[2:]]
    if rows:
        runs[(pair, side)] = (rows, info)
pairs = sorted({p for p, _ in runs if (p, 'A') in runs and (p, 'B') in runs})
print(f'{len(pairs)} complete pairs; odd pairs ran A then B, even pairs B then A')
for p in pairs:
    print(f'  pair {p}: A {runs[(p, "A")][1]} | B {runs[(p, "B")][1]}')
keys = sorted(runs[(pairs[0], 'A')][0].keys(), key=lambda k: (k[0], k[1] != 'load'))
for order, sel in (('A first (odd)', [p for p in pairs if p % 2]), ('B first (even)', [p for p in pairs if p % 2 == 0]), ('all', pairs)):
    if not sel:
        continue
    print(f'\n{order}: {len(sel)} pairs; median µs per operation A -> B (pairs where B is lower)')
    print(f'{"preload":>7} {"op":<10} ' + ' '.join(f'{c:>22}' for c in cols))
    for k in keys:
        cells = []
        for i in range(len(cols)):
            a = [runs[(p, 'A')][0][k][i] for p in sel]
            b = [runs[(p, 'B')][0][k][i] for p in sel]
            won = sum(1 for x, y in zip(a, b) if y < x)
            cells.append(f'{statistics.median(a):7.1f} -> {statistics.median(b):6.1f} ({won}/{len(sel)})')
        print(f'{k[0]:>7} {k[1]:<10} ' + ' '.join(f'{c:>22}' for c in cells))
