#!/usr/bin/env python3
"""Per run, WRITE µs ÷ READ µs of the same block (the READ path is the same
code on both sides, so the ratio takes out what the minute did to the run);
medians per side and pairs where the branch's ratio is lower. Usage:
wrratio.py RAWDIR [PREFIX] (ab.sh's files PREFIX-<pair>-<before|after>.txt)."""
import glob, os, re, statistics, sys

raw, prefix = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else 'ab')
runs = {}
for p in glob.glob(f'{raw}/{prefix}-*-*.txt'):
    m = re.match(rf'{re.escape(prefix)}-(\d+)-(before|after)\.txt', os.path.basename(p))
    if not m: continue
    op, us = None, {}
    for line in open(p):
        t = re.match(r'TCP (READ|WRITE), socket path', line)
        if t: op = t[1]; continue
        f = line.split()
        if op and len(f) > 12 and f[0].isdigit() and f[1] == '1' and f[10] == 'socket':
            us[(op, int(f[0]))] = float(f[3])
    runs[(int(m[1]), m[2])] = us
pairs = sorted({k[0] for k in runs if (k[0], 'before') in runs and (k[0], 'after') in runs})
print('| block | WRITE ÷ READ before (per pair) | after (per pair) | median before → after | after lower |')
print('|---|---|---|---|---|')
for b in sorted({k[1] for r in runs.values() for k in r}):
    rb = [runs[(i, 'before')][('WRITE', b)] / runs[(i, 'before')][('READ', b)] for i in pairs]
    ra = [runs[(i, 'after')][('WRITE', b)] / runs[(i, 'after')][('READ', b)] for i in pairs]
    blk = f'{b // 1024}K' if b < 1 << 20 else f'{b >> 20}M'
    print(f'| {blk} | ' + ' / '.join(f'{x:.2f}' for x in rb) + ' | ' + ' / '.join(f'{x:.2f}' for x in ra) +
          f' | {statistics.median(rb):.2f} → {statistics.median(ra):.2f} | {sum(a < b for a, b in zip(ra, rb))} of {len(pairs)} |')
