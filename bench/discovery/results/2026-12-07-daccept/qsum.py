#!/usr/bin/env python3
"""queue-trace.py's files in one line each: the deepest accept queue seen (and its
emulated host, second of the start), and per host the time (100 ms samples) its
largest accept queue held >= 20 and >= 40 connections. Usage: qsum.py TRACE..."""
import sys

for path in sys.argv[1:]:
    rows = [l.split() for l in open(path) if len(l.split()) > 1]
    t0 = int(rows[0][0])
    deepest = (0, 0, 0)
    over20, over40 = {}, {}
    for r in rows:
        for i, part in enumerate(r[1:]):
            q = int(part.split(':')[2].split('/')[0])
            if q > deepest[0]:
                deepest = (q, i + 1, (int(r[0]) - t0) / 1000)
            over20[i + 1] = over20.get(i + 1, 0) + (q >= 20) / 10
            over40[i + 1] = over40.get(i + 1, 0) + (q >= 40) / 10
    fmt = lambda d: ' '.join(f'h{h} {d[h]:.1f}' for h in sorted(d))
    print(f'{path}: deepest {deepest[0]} (host{deepest[1]} at +{deepest[2]:.1f} s); '
          f's >= 20: {fmt(over20)}; s >= 40: {fmt(over40)}')
