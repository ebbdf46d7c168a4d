#!/usr/bin/env python3
"""Summarises scale.ts --timeline output: per agent ready, first link, spread of its
record, loaded-all; quantiles; the latest agents by spread and by loaded-all.
Usage: tl.py LOG"""
import re, sys

rows = []
for line in open(sys.argv[1]):
    m = re.match(r'\s+(\S+) \| (\d+) \| (\S+) \| (\S+) \(\+(\S+)\) \| (\S+) \((\S+)\)', line)
    if m:
        a, r, l, s, _, la, lp = m.groups()
        f = lambda x: float(x) if x != 'NaN' else float('nan')
        rows.append((a, int(r), f(l), f(s), f(la), lp))
lr = max(r for _, r, *_ in rows)


def q(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


print(f'agents {len(rows)}, last ready {lr} ms from spawn')
for name, k in (('ready', 1), ('first link', 2), ('record spread (all loaded it)', 3), ('loaded all', 4)):
    xs = [r[k] for r in rows]
    print(f'  {name:32s} p10 {q(xs,.1):.0f}  p50 {q(xs,.5):.0f}  p90 {q(xs,.9):.0f}  max {max(xs):.0f}')
xs = [r[2] - r[1] for r in rows]
print(f'  first link after ready            p50 {q(xs,.5):.0f}  p90 {q(xs,.9):.0f}  max {max(xs):.0f}')
xs = [r[3] - r[2] for r in rows]
print(f'  spread after first link           p50 {q(xs,.5):.0f}  p90 {q(xs,.9):.0f}  max {max(xs):.0f}')
print('latest records to spread (agent ready link spread | link-ready spread-link):')
for r in sorted(rows, key=lambda r: -r[3])[:10]:
    print(f'  {r[0]:6s} {r[1]:6d} {r[2]:6.0f} {r[3]:6.0f} | {r[2]-r[1]:6.0f} {r[3]-r[2]:6.0f}')
print('latest to load all (agent loaded-all, last peer it loaded):')
from collections import Counter
print('  last peers loaded:', Counter(r[5] for r in rows).most_common(6))
