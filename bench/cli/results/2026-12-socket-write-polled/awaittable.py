#!/usr/bin/env python3
"""await.sh's runs: WRITE 4 KiB µs (Avg Lat.) and Avg Post per run, per pair,
medians, and how many pairs the branch won. Usage: awaittable.py RAWDIR [PREFIX]."""
import glob, os, re, statistics, sys

raw, prefix = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else 'await')
runs = {}
for p in glob.glob(f'{raw}/{prefix}-*-*.txt'):
    m = re.match(rf'{re.escape(prefix)}-(\d+)-(before|after)\.txt', os.path.basename(p))
    if not m: continue
    head = open(p).readline().split()
    for line in open(p):
        f = line.split()
        if len(f) > 10 and f[0] == '4096' and f[1] == '1':
            runs[(int(m[1]), m[2])] = (head[5], head[7], float(f[3]), float(f[6]))
pairs = sorted({k[0] for k in runs if (k[0], 'before') in runs and (k[0], 'after') in runs})
print('| pair (order) | before µs (post) | after µs (post) | UTC, load (before / after) | after faster |')
print('|---|---|---|---|---|')
for i in pairs:
    b, a = runs[(i, 'before')], runs[(i, 'after')]
    order = 'before first' if i % 2 else 'after first'
    print(f'| {i} ({order}) | {b[2]} ({b[3]}) | {a[2]} ({a[3]}) | {b[0]} {b[1]} / {a[0]} {a[1]} | {"yes" if a[2] < b[2] else "no"} |')
mb = statistics.median(runs[(i, 'before')][2] for i in pairs)
ma = statistics.median(runs[(i, 'after')][2] for i in pairs)
won = sum(runs[(i, 'after')][2] < runs[(i, 'before')][2] for i in pairs)
print(f'\nMedians: before {mb:.1f} µs, after {ma:.1f} µs; after faster in {won} of {len(pairs)} pairs.')
