#!/usr/bin/env python3
"""Tables from ab.sh's runs: per cell, each run's GB/s and µs (median of its
repeats, as the bench prints), the ratio to NIXL (nixl-side-by-side-2026-12.md)
and to the C request/response floor of the same run; medians per side, and how
many pairs the branch won. Avg Post (µs, median per side) says which mode a run's cell was in: inline
posts from the caller take 13-25 µs, posts the lingering I/O thread sends 1-4 µs.
Usage: abtable.py RAWDIR [PAIR ...] (default: all). Copied from ../2026-12-socket-read-mid/ (itself from
../2026-12-socket-write-polled/ and ../2026-12-socket-write-account/); here with the batch cells; µs per block
from the median GB/s (block ÷ GB/s, as the bench's Avg Lat.), two decimals for the batch cells, and a pair
is won on GB/s (no ties from rounding) and the C request/response floor's own µs per side (median over the runs)."""
import glob, os, re, statistics, sys

# PREFIX=on BASE=on abtable.py raw: ab-on.sh's runs (on-<pair>-<on|after>.txt).
PREFIX, BASE = os.environ.get('PREFIX', 'ab'), os.environ.get('BASE', 'before')
raw = sys.argv[1]
only = set(sys.argv[2:])
NIXL = {}
for line in open('/work/shared/reference/nixl-side-by-side-2026-12.md'):
    m = re.match(r'\| (READ|WRITE) \| (\d+) \| 1 \| [\d.]+ \| [\d.]+ \| ([\d.]+) \| ([\d.]+) \|', line)
    if m and (m[1], int(m[2])) not in NIXL: NIXL[(m[1], int(m[2]))] = (float(m[3]), float(m[4]))

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

runs = {}
for p in sorted(glob.glob(f'{raw}/{PREFIX}-*-*.txt')):
    m = re.match(rf'{PREFIX}-(\d+)-({BASE}|after)\.txt', os.path.basename(p))
    if m: m = (m[0], m[1], 'before' if m[2] == BASE else 'after')
    if not m or (only and m[1] not in only): continue
    head, cells = parse(p)
    if cells: runs[(int(m[1]), m[2])] = (head, cells)
pairs = sorted({k[0] for k in runs if (k[0], 'before') in runs and (k[0], 'after') in runs})
if not pairs: sys.exit("no complete pair")
print("Runs (pair, side, start, load):")
for k in sorted(runs):
    h = runs[k][0]
    print(f'- pair {k[0]} {k[1]}: {h[5]} UTC, load {h[7]}')
print()
print('| op | block × batch | NIXL µs | C floor µs before / after | before µs per pair | after µs per pair | median µs before → after | Avg Post µs before → after | × NIXL before → after | × C floor before → after | after faster (before first / after first) |')
print('|---|---|---|---|---|---|---|---|---|---|---|')
for key in sorted({c for r in runs.values() for c in r[1]}, key=lambda k: (k[0] != 'WRITE', k[2], k[1])):
    b = [runs[(i, 'before')][1].get(key) for i in pairs]; a = [runs[(i, 'after')][1].get(key) for i in pairs]
    if None in b or None in a: continue
    nx = NIXL.get(key[:2]) if key[2] == 1 else None
    fb, fa = statistics.median(x['floor_us'] for x in b), statistics.median(x['floor_us'] for x in a)
    mb, ma = statistics.median(x['gbps'] for x in b), statistics.median(x['gbps'] for x in a)
    rb, ra = statistics.median(x['rr'] for x in b), statistics.median(x['rr'] for x in a)
    won = sum(x['gbps'] > y['gbps'] for x, y in zip(a, b))
    odd = [i for i, x, y in zip(pairs, a, b) if i % 2 == 1]; ev = [i for i in pairs if i % 2 == 0]
    won1 = sum(a[pairs.index(i)]['gbps'] > b[pairs.index(i)]['gbps'] for i in odd)
    won2 = sum(a[pairs.index(i)]['gbps'] > b[pairs.index(i)]['gbps'] for i in ev)
    ub, ua = statistics.median(x['us'] for x in b), statistics.median(x['us'] for x in a)
    pb, pa = statistics.median(x['post'] for x in b), statistics.median(x['post'] for x in a)
    dec = 1 if key[2] == 1 else 2
    blk = f'{key[1] // 1024}K' if key[1] < 1 << 20 else f'{key[1] >> 20}M'
    print(f'| {key[0]} | {blk} × {key[2]} | {nx[1] if nx else "-"} | {fb:.{dec}f} / {fa:.{dec}f} | ' +  ' / '.join(f'{x["us"]:.{dec}f}' for x in b) + ' | ' +
           ' / '.join(f'{x["us"]:.{dec}f}' for x in a) + f' | {ub:.{dec}f} → {ua:.{dec}f} | {pb:.1f} → {pa:.1f} | ' +
          (f'{mb / nx[0]:.2f} → {ma / nx[0]:.2f}' if nx else '-') + f' | {rb:.2f} → {ra:.2f} | {won} of {len(pairs)} ({won1}/{len(odd)}, {won2}/{len(ev)}) |')
