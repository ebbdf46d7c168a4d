#!/usr/bin/env python3
"""Splits one dump (the last, timed loop in the file) by CLOCK_MONOTONIC block: odd 2^20 ns
blocks (the ring alone in the probe) against even ones (the ring plus a 512-byte allocation every 4th push). Transfers within 20 us of a block
boundary are dropped. Prints n, median and 25th percentile Tx (us) of each class, and odd - even.
Usage: alt-an.py DUMP..."""
import json, statistics as st, sys

for f in sys.argv[1:]:
    rec = [json.loads(l) for l in open(f)][-1]
    off = rec['offsetNs']
    cls = {0: [], 1: []}
    for s, tx in zip(rec['start'], rec['tx']):
        mono = int(s * 1e6 + off)
        pos = mono & ((1 << 20) - 1)
        if pos < 20000 or pos + tx * 1000 + 20000 > (1 << 20):
            continue
        cls[(mono >> 20) & 1].append(tx)
    q = {k: (len(v), st.median(v), st.quantiles(v, n=4)[0]) for k, v in cls.items()}
    print('  even(deque-like allocations) n %d med %.2f p25 %.2f | odd(ring alone) n %d med %.2f p25 %.2f | odd-even med %+.2f p25 %+.2f' % (
        q[0] + q[1] + (q[1][1] - q[0][1], q[1][2] - q[0][2])))
