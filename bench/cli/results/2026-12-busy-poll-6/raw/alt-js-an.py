#!/usr/bin/env python3
"""Splits one dump (its last, timed loop) into intervals between consecutive post starts, by
the CLOCK_MONOTONIC block of the moment the next post was decided (the previous post's end):
odd blocks (the probe's start on the last clock read) against even ones (a fresh read).
Intervals decided within 20 us of a block boundary are dropped. Usage: alt-js-an.py DUMP..."""
import json, statistics as st, sys

for f in sys.argv[1:]:
    rec = [json.loads(l) for l in open(f)][-1]
    off, s, tx = rec['offsetNs'], rec['start'], rec['tx']
    cls = {0: [], 1: []}
    for i in range(len(s) - 1):
        gap = (s[i + 1] - s[i]) * 1000
        end = int((s[i] + tx[i] / 1000) * 1e6 + off)
        pos = end & ((1 << 20) - 1)
        if pos < 20000 or pos > (1 << 20) - 20000:
            continue
        cls[(end >> 20) & 1].append(gap)
    q = {k: (len(v), st.median(v), st.quantiles(v, n=4)[0]) for k, v in cls.items()}
    print('  even(fresh read) n %d med %.3f p25 %.3f | odd(last read) n %d med %.3f p25 %.3f | odd-even med %+.3f p25 %+.3f' % (
        q[0] + q[1] + (q[1][1] - q[0][1], q[1][2] - q[0][2])))
