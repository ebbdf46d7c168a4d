#!/usr/bin/env python3
"""Per cell, the runs' own ratio to the C request/response floor (the bench's
`vs C req/resp`, measured in the same run) before and after, and in how many
pairs the after run's ratio was the higher: the machine's speed of the moment
cancels out in part. Usage: floorwins.py RAWDIR [PAIR ...]. Reads the runs
with ../2026-12-socket-read-4k/abtable.py's parser."""
import glob, importlib.util, os, re, statistics, sys

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location('abtable', os.path.join(here, '../2026-12-socket-read-4k/abtable.py'))
src = open(spec.origin).read().split('\nruns = {}')[0]  # the parser, without the table it prints
ns = {'__name__': 'abtable'}
sys_argv, sys.argv = sys.argv, [sys.argv[0], sys.argv[1]]
exec(compile(src, spec.origin, 'exec'), ns)
sys.argv = sys_argv
raw, only = sys.argv[1], set(sys.argv[2:])
runs = {}
for p in glob.glob(f'{raw}/ab-*-*.txt'):
    m = re.match(r'ab-(\d+)-(before|after)\.txt', os.path.basename(p))
    if m and (not only or m[1] in only):
        runs[(int(m[1]), m[2])] = ns['parse'](p)[1]
pairs = sorted({k[0] for k in runs if (k[0], 'before') in runs and (k[0], 'after') in runs})
print(f'{len(pairs)} pairs: {pairs}\n')
print('| op | block | × C floor per pair, before | after | median before → after | after higher in |')
print('|---|---|---|---|---|---|')
for key in sorted({c for r in runs.values() for c in r}, key=lambda k: (k[0] != 'WRITE', k[2], k[1])):
    b = [runs[(i, 'before')][key]['rr'] for i in pairs]
    a = [runs[(i, 'after')][key]['rr'] for i in pairs]
    won = sum(x > y for x, y in zip(a, b))
    print(f'| {key[0]} | {key[1] // 1024}K | ' + ' / '.join(f'{x:.2f}' for x in b) + ' | ' + ' / '.join(f'{x:.2f}' for x in a) +
          f' | {statistics.median(b):.2f} → {statistics.median(a):.2f} | {won} of {len(pairs)} |')
