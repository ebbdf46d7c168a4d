#!/usr/bin/env python3
"""ab.sh output (A = main, B = branch; odd rounds run A then B, even rounds B then A):
per cell, the median Avg Lat. (us) of A and of B, the B - A difference of each pair by
order (AB, BA) with its median and how many pairs B was faster in, and the median
x floor (the row's last column, when --baseline(s) ran). Usage: pairs2.py FILE..."""
import re, statistics as st, sys
from collections import defaultdict

runs = defaultdict(dict)  # (file, round) -> {variant: {cell: (us, xfloor)}}
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
            xf = float(x[-1][:-1]) if x[-1].endswith('x') else None
            runs[(f, r)][v][(op, int(x[0]), int(x[1]))] = (float(x[3]), xf)
cells = sorted({c for p in runs.values() for d in p.values() for c in d})
print('cell             A med   B med   AB pairs: B-A each (med, B faster)        BA pairs: B-A each (med, B faster)        x floor A / B (med)')
for c in cells:
    a = [p['A'][c][0] for p in runs.values() if c in p.get('A', {})]
    b = [p['B'][c][0] for p in runs.values() if c in p.get('B', {})]
    out = []
    for par in (1, 0):
        d = [p['B'][c][0] - p['A'][c][0] for (f, r), p in sorted(runs.items())
             if r % 2 == par and c in p.get('A', {}) and c in p.get('B', {})]
        out.append(' '.join('%+.1f' % x for x in d) + (' (%+.2f, %d/%d)' % (st.median(d), sum(x < 0 for x in d), len(d)) if d else ''))
    fa = [p['A'][c][1] for p in runs.values() if c in p.get('A', {}) and p['A'][c][1]]
    fb = [p['B'][c][1] for p in runs.values() if c in p.get('B', {}) and p['B'][c][1]]
    fl = '%.2f / %.2f' % (st.median(fa), st.median(fb)) if fa and fb else '-'
    name = '%s %s%s' % (c[0], ('%dK' % (c[1] // 1024)) if c[1] < 1 << 20 else ('%dM' % (c[1] >> 20)), ('x%d' % c[2]) if c[2] > 1 else '')
    print('%-14s %7.1f %7.1f   %-40s  %-40s  %s' % (name, st.median(a), st.median(b), out[0], out[1], fl))
