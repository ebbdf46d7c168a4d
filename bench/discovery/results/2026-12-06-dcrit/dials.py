#!/usr/bin/env python3
"""The seed dials that --timeline prints (agents whose first link came > 2 s after
ready): per seed and per second of the start, dials ended (refused / connected) and
how long they took. Usage: dials.py LOG"""
import re, sys
from collections import defaultdict

per = defaultdict(lambda: defaultdict(list))
for line in open(sys.argv[1]):
    m = re.match(r'\s+(\S+) \+(\d+): seed /ip4/([\d.]+)/\S+ (not reachable|connected) .*?(?:after|in) (\d+) ms', line)
    if not m:
        continue
    a, t, seed, what, d = m.groups()
    per[seed][int(t) // 2000].append((what[0], int(d)))
for seed in sorted(per):
    print(seed)
    for b in sorted(per[seed]):
        xs = per[seed][b]
        ds = sorted(d for _, d in xs)
        print(f'  {2*b:3d}-{2*b+2:3d} s: refused {sum(w=="n" for w,_ in xs):3d} connected {sum(w=="c" for w,_ in xs):2d}  '
              f'dial ms median {ds[len(ds)//2]:5d} max {ds[-1]:5d}')
