#!/usr/bin/env python3
"""Medians per variant (A = main, B = branch) and cell of ab.sh output: µs per transfer,
× spinning floor, and the floor's 4 KiB READ GB/s (which regime it ran in). Usage: med.py FILE..."""
import re, statistics as st, sys
from collections import defaultdict

us = defaultdict(list); ratio = defaultdict(list); loads = defaultdict(list)
v = op = None
for f in sys.argv[1:]:
    for line in open(f):
        m = re.match(r'== (\w) round \d+ \S+ load (\S+)', line)
        if m:
            v = m.group(1); loads[v].append(float(m.group(2))); continue
        m = re.match(r'TCP (READ|WRITE),', line)
        if m:
            op = m.group(1); continue
        f_ = line.split()
        if re.match(r'^\d+ ', line) and len(f_) > 5:
            key = (op, int(f_[0]))
            us[(v,) + key].append(float(f_[3]))
            if f_[-1].endswith('x'):
                ratio[(v,) + key].append(float(f_[-1][:-1]))
print('cell          A us (n)   B us   A x floor  B x floor   per-run us A | B')
for op in ('READ', 'WRITE'):
    for b in (4096, 16384, 65536, 131072, 262144, 1048576):
        a, bb = us.get(('A', op, b)), us.get(('B', op, b))
        if not a or not bb: continue
        ra, rb = ratio.get(('A', op, b), [0]), ratio.get(('B', op, b), [0])
        print(f'{op:5} {b//1024:4}K  {st.median(a):7.1f} ({len(a)}) {st.median(bb):7.1f}   {st.median(ra):6.2f}     {st.median(rb):6.2f}     '
              + ' '.join(f'{x:.1f}' for x in a) + ' | ' + ' '.join(f'{x:.1f}' for x in bb))
for k in loads: print(k, 'load', min(loads[k]), '-', max(loads[k]))
