#!/usr/bin/env python3
"""abn.sh output -> per cell (op, path, block, batch) and variant: GB/s of every run and the median."""
import sys, collections

d = collections.defaultdict(list)
order, v, op = [], None, '?'
for line in open(sys.argv[1]):
    if line.startswith('=='):
        v = line.split()[1]
        if v not in order:
            order.append(v)
        continue
    f = line.split()
    if f[1].rstrip(',') in ('READ', 'WRITE'):
        op = f[1].rstrip(',')
        continue
    path = next((x for x in f if x in ('socket', 'same-host', 'shm')), '?')
    d[((op, path, int(f[0]), int(f[1])), v)].append(float(f[2]))
for key in sorted({k for k, _ in d}):
    cells = []
    for v in order:
        xs = d.get((key, v), [])
        if xs:
            cells.append(f"{v} {' '.join(f'{x:.2f}' for x in xs)} (med {sorted(xs)[len(xs) // 2]:.2f})")
    print(f"{key[0]:5} {key[1]:9} {key[2]:>9} x{key[3]:<4} " + ' | '.join(cells))
