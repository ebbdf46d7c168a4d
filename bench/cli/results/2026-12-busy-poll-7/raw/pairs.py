#!/usr/bin/env python3
"""Pairs of ab.sh output (A = main, B = branch, one pair per round): for each cell, the
median µs of all runs of each, and over the pairs where both runs are in the fast regime
(both under 1.25x the fastest run of that cell in the files), how many B was faster in and
the median difference B - A. Usage: pairs.py FILE..."""
import re, statistics as st, sys
from collections import defaultdict

runs = defaultdict(dict)  # (file, round) -> {variant: {cell: us}}
for f in sys.argv[1:]:
    v = r = op = None
    for line in open(f):
        m = re.match(r'== (\w) round (\d+) ', line)
        if m:
            v, r = m.group(1), int(m.group(2)); runs[(f, r)].setdefault(v, {}); continue
        m = re.match(r'TCP (READ|WRITE),', line)
        if m:
            op = m.group(1); continue
        x = line.split()
        if re.match(r'^\d+ ', line) and len(x) > 5 and v:
            runs[(f, r)][v][(op, int(x[0]))] = float(x[3])
cells = sorted({c for p in runs.values() for d in p.values() for c in d})
print('cell        A med (n)  B med (n)  fast pairs  B faster  median B-A (fast pairs)')
for c in cells:
    a = [p['A'][c] for p in runs.values() if 'A' in p and c in p['A']]
    b = [p['B'][c] for p in runs.values() if 'B' in p and c in p['B']]
    if not a or not b: continue
    lim = 1.25 * min(a + b)
    fast = [(p['A'][c], p['B'][c]) for p in runs.values()
            if 'A' in p and 'B' in p and c in p['A'] and c in p['B'] and p['A'][c] < lim and p['B'][c] < lim]
    d = [y - x for x, y in fast]
    print(f'{c[0]:5} {c[1]//1024:4}K  {st.median(a):6.1f} ({len(a):2})  {st.median(b):6.1f} ({len(b):2})  '
          f'{len(fast):6}      {sum(1 for x in d if x < 0):4}      '
          + (f'{st.median(d):+.2f} us ({100*st.median(d)/st.median([x for x,_ in fast]):+.1f} %)' if d else '-'))
