#!/usr/bin/env python3
"""Within-run comparison of two READ cells (default 8K and 16K, batch 1): per
run, our µs at each size, the C request/response floor's µs at each size (same
run), and the runs where our smaller cell was slower than the larger one, and
where the floor's was. Both cells are timed in one process seconds apart, so
the machine's state of the moment cancels out in part.
Usage: sizecmp.py RAWFILE... (ab.sh's runs or any nixl-ts-bench output)
Env: A=8192 B=16384 OP=READ. parse() as in ../2026-12-socket-read-4k/abtable.py."""
import os, statistics, sys
import re

files = sys.argv[1:]

SIZE = {'K': 1 << 10, 'M': 1 << 20}

def parse(path):
    op, cells, floors, head = None, {}, {}, open(path).readline().split()
    for line in open(path):
        m = re.match(r'TCP (READ|WRITE), socket path', line)
        if m: op = m[1]; continue
        f = line.split()
        if op and len(f) > 12 and f[0].isdigit() and f[1].isdigit() and f[10] == 'socket':
            cells[(op, int(f[0]), int(f[1]))] = dict(gbps=float(f[2]), us=int(f[0]) / float(f[2]) / 1e3, post=float(f[6]), rr=float(f[-1].rstrip('x')))
        m = re.match(r'socket\s+(READ|WRITE)\s+(\d+)([KM])\s+(\d+)\s+[\d.]+\s+([\d.]+)\s*$', line)
        if m: floors[(m[1], int(m[2]) * SIZE[m[3]], int(m[4]))] = float(m[5])
    for k, c in cells.items():
        gb = floors.get(k)
        c['floor_us'] = k[1] * k[2] / gb / 1e3 / k[2] if gb else float('nan')  # per block, as Avg Lat.
    return head, cells


A, B, OP = int(os.environ.get('A', 8192)), int(os.environ.get('B', 16384)), os.environ.get('OP', 'READ')
rows = []
for f in sorted(files, key=lambda p: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p)]):
    head, cells = parse(f)
    a, b = cells.get((OP, A, 1)), cells.get((OP, B, 1))
    if not a or not b: continue
    rows.append((os.path.basename(f), a['us'], b['us'], a['floor_us'], b['floor_us'], a['post'], b['post']))
ka, kb = f'{A >> 10}K', f'{B >> 10}K'
print(f'| run | {OP} {ka} µs | {OP} {kb} µs | {ka} − {kb} | C floor {ka} µs | C floor {kb} µs | floor {ka} − {kb} | Avg Post {ka} / {kb} |')
print('|---|---|---|---|---|---|---|---|')
for r in rows:
    print(f'| {r[0]} | {r[1]:.1f} | {r[2]:.1f} | {r[1] - r[2]:+.1f} | {r[3]:.1f} | {r[4]:.1f} | {r[3] - r[4]:+.1f} | {r[5]:.1f} / {r[6]:.1f} |')
if rows:
    print(f'\n{len(rows)} runs. Median {ka} {statistics.median(r[1] for r in rows):.1f} µs, {kb} {statistics.median(r[2] for r in rows):.1f} µs; '
          f'median difference {statistics.median(r[1] - r[2] for r in rows):+.1f} µs; {ka} slower than {kb} in {sum(r[1] > r[2] for r in rows)} of {len(rows)}. '
          f'C floor: {ka} {statistics.median(r[3] for r in rows):.1f}, {kb} {statistics.median(r[4] for r in rows):.1f} µs, '
          f'median difference {statistics.median(r[3] - r[4] for r in rows):+.1f} µs, {ka} slower in {sum(r[3] > r[4] for r in rows)} of {len(rows)}.')
