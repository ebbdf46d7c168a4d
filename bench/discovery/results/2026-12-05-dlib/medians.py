#!/usr/bin/env python3
"""Medians of a probe-ab.sh log: lone frame and per-frame-in-burst CPU µs, A and B, and pairs where B < A."""
import re, statistics as st, sys
d = {'A': {'frames': [], 'burst': [], 'link': [], 'spaced': []}, 'B': {'frames': [], 'burst': [], 'link': [], 'spaced': []}}
cur = None
for line in open(sys.argv[1]):
    m = re.match(r'== ([AB])\d', line)
    if m:
        cur = m.group(1)
        continue
    for key, pat in (('frames', r'frames\s+n=\d+\s+cpu\s+([\d.]+)'), ('spaced', r'frames-spaced\s+n=\d+\s+cpu\s+([\d.]+)'),
                     ('link', r'link\s+n=\d+\s+cpu\s+([\d.]+)'), ('burst', r'frames-burst per frame cpu ([\d.]+)')):
        m = re.match(pat, line)
        if m:
            d[cur][key].append(float(m.group(1)))
for key in ('frames', 'burst', 'spaced', 'link'):
    a, b = d['A'][key], d['B'][key]
    if not a:
        continue
    better = sum(1 for x, y in zip(a, b) if y < x)
    print(f'{key:7} A median {st.median(a):8.1f}  B median {st.median(b):8.1f}  ({100 * (st.median(b) / st.median(a) - 1):+.1f} %)  B < A in {better} of {len(b)} pairs')
    print(f'        A {a}\n        B {b}')
