#!/usr/bin/env python3
"""The OCC lines that occupancy-instrumentation.patch prints (one per link to a
joiner that a member dropped or lost: how long it held the joiner, when the
joiner's first digest exchange ended, when its frame first said it held 2+
links, all ms from the link): medians and p90. Usage: occupancy.py LOG"""
import statistics as st
import sys
from collections import Counter

rows = [l.split() for l in open(sys.argv[1]) if l.startswith('OCC ')]
num = lambda r, i: float(r[i])
ok = lambda x: x == x  # not NaN


def q(xs):
    xs = sorted(xs)
    return f'median {st.median(xs):.0f} p90 {xs[int(0.9 * len(xs))]:.0f} (n {len(xs)})'


held = [num(r, 4) for r in rows]
sync = [num(r, 6) for r in rows if ok(num(r, 6))]
second = [num(r, 8) for r in rows if ok(num(r, 8))]
print('joiners let go, by member:', Counter(r[1] for r in rows).most_common(8))
print('held (link to drop)           ', q(held))
print('digest exchange done          ', q(sync))
print('frame saying 2+ links         ', q(second))
print('  after the exchange          ', q([num(r, 8) - num(r, 6) for r in rows if ok(num(r, 8)) and ok(num(r, 6))]))
print('drop after that frame         ', q([num(r, 4) - num(r, 8) for r in rows if ok(num(r, 8))]))
