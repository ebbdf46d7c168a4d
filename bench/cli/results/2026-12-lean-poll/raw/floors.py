#!/usr/bin/env python3
"""abn.sh output with --baselines reqresp -> per cell and variant: average µs per transfer of
every run (median), and nixl-ts ÷ the C request/response floor of the same run (median)."""
import sys, collections

lat = collections.defaultdict(list)
ratio = collections.defaultdict(list)
order, v, op = [], None, '?'
for line in open(sys.argv[1]):
    f = line.split()
    if line.startswith('=='):
        v = f[1]
        if v not in order:
            order.append(v)
        continue
    if len(f) > 1 and f[1].rstrip(',') in ('READ', 'WRITE') and f[0] != 'socket':
        op = f[1].rstrip(',')
        continue
    if f and f[0].isdigit() and f[-1].endswith('x'):
        key = (op, int(f[0]), int(f[1]))
        lat[(key, v)].append(float(f[3]))
        ratio[(key, v)].append(float(f[-1][:-1]))

med = lambda xs: sorted(xs)[len(xs) // 2]
for key in sorted({k for k, _ in lat}):
    cells = []
    for v in order:
        xs, rs = lat.get((key, v), []), ratio.get((key, v), [])
        if xs:
            cells.append(f"{v} {' '.join(f'{x:.1f}' for x in xs)} µs (med {med(xs):.1f}, × floor {med(rs):.2f})")
    print(f"{key[0]:5} {key[1]:>8} x{key[2]:<3} " + ' | '.join(cells))
