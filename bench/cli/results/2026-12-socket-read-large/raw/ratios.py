#!/usr/bin/env python3
"""issue-ab.sh output -> per cell and variant: GB/s, the same run's C floor and the ratio, per run."""
import sys, collections, re

runs = collections.defaultdict(list)  # (op, block, variant) -> [(gbps, floor)]
order, v, op, cur = [], None, None, {}
sizes = {'1M': 1 << 20, '2M': 2 << 20, '4M': 4 << 20, '8M': 8 << 20, '16M': 16 << 20, '4K': 4096, '64K': 65536,
         '256K': 256 << 10, '512K': 512 << 10}

def flush():
    for (o, b), g in cur.get('gbps', {}).items():
        f = cur.get('floor', {}).get((o, b))
        runs[(o, b, v)].append((g, f))

for line in open(sys.argv[1]):
    if line.startswith('=='):
        if v is not None:
            flush()
        v = line.split()[1]
        if v not in order:
            order.append(v)
        cur = {}
        continue
    m = re.match(r'TCP (READ|WRITE)', line)
    if m:
        op = m.group(1)
        continue
    f = line.split()
    if f[0] == 'socket':
        cur.setdefault('floor', {})[(f[1], sizes[f[2]])] = float(f[4])
    elif f[0].isdigit():
        cur.setdefault('gbps', {})[(op, int(f[0]))] = float(f[2])
if v is not None:
    flush()
for key in sorted({(o, b) for o, b, _ in runs}):
    print(f"{key[0]:5} {key[1]:>9}")
    for v in order:
        xs = runs.get((key[0], key[1], v), [])
        if not xs:
            continue
        rs = [g / f for g, f in xs if f]
        med = sorted(rs)[len(rs) // 2] if rs else float('nan')
        print(f"   {v}: " + '  '.join(f"{g:.2f}/{f:.2f}={g / f:.2f}x" for g, f in xs if f) + f"   (median ratio {med:.2f}x, min {min(rs):.2f}x)")
