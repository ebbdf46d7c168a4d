#!/usr/bin/env python3
"""Per run, READ µs ÷ WRITE µs of the same cell (both timed in one process, seconds
apart): a figure that the machine's state of the moment moves less than the µs
alone. The branch changes READs of up to 16 KiB only; WRITEs and larger READs run
the same code on both sides. Usage: rwratio.py RAWDIR [PAIR ...] (default: all)."""
import glob, os, re, statistics, sys

raw, only = sys.argv[1], set(sys.argv[2:])
def parse(path):
    op, cells = None, {}
    for line in open(path):
        m = re.match(r'TCP (READ|WRITE), socket path', line)
        if m: op = m[1]; continue
        f = line.split()
        if op and len(f) > 12 and f[0].isdigit() and f[1].isdigit() and f[10] == 'socket':
            cells[(op, int(f[0]), int(f[1]))] = int(f[0]) / float(f[2]) / 1e3
    return cells
runs = {}
for p in glob.glob(f'{raw}/ab-*-*.txt'):
    m = re.match(r'ab-(\d+)-(before|after)\.txt', os.path.basename(p))
    if m and (not only or m[1] in only): runs[(int(m[1]), m[2])] = parse(p)
pairs = sorted({k[0] for k in runs if (k[0], 'before') in runs and (k[0], 'after') in runs})
print('| block × batch | READ ÷ WRITE before, per pair | after, per pair | median before → after | lower after in |')
print('|---|---|---|---|---|')
for blk, bat in sorted({(k[1], k[2]) for r in runs.values() for k in r}, key=lambda k: (k[1], k[0])):
    rb = [runs[(i, 'before')][('READ', blk, bat)] / runs[(i, 'before')][('WRITE', blk, bat)] for i in pairs]
    ra = [runs[(i, 'after')][('READ', blk, bat)] / runs[(i, 'after')][('WRITE', blk, bat)] for i in pairs]
    won = sum(a < b for a, b in zip(ra, rb))
    print(f'| {blk // 1024}K × {bat} | ' + ' / '.join(f'{x:.2f}' for x in rb) + ' | ' + ' / '.join(f'{x:.2f}' for x in ra) +
          f' | {statistics.median(rb):.2f} → {statistics.median(ra):.2f} | {won} of {len(pairs)} |')
