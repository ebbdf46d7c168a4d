#!/usr/bin/env python3
"""queue-trace.py's file: per namespace (emulated host), the seed port's accept queue
over the start, max per second (the seed port is the listening port whose queue was
largest at least once). Usage: queue.py TRACE"""
import sys
from collections import defaultdict

rows = [l.split() for l in open(sys.argv[1]) if len(l.split()) > 1]
t0 = int(rows[0][0])
q = defaultdict(lambda: defaultdict(int))
for r in rows:
    s = (int(r[0]) - t0) // 1000
    for i, part in enumerate(r[1:]):
        f = part.split(':')
        q[i][s] = max(q[i][s], int(f[2].split('/')[0]))
secs = sorted({s for h in q.values() for s in h})
print('s   ' + ' '.join(f'host{i+1:<3d}' for i in sorted(q)))
for s in secs:
    print(f'{s:3d} ' + ' '.join(f'{q[i][s]:7d}' for i in sorted(q)))
