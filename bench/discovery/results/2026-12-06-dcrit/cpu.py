#!/usr/bin/env python3
"""The CPU trace of a run (cpu-trace.py's file), in windows of W ms from the first
sample that saw the workers (~spawn): machine and workers' cores busy. With the run's
log, the last-ready and all-loaded moments are marked (the log's times are ms from
spawn). Usage: cpu.py TRACE [LOG] [W]"""
import re, sys

rows = [tuple(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
t0 = next(r[0] for r in rows if r[3] > 0)
w = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
marks = {}
if len(sys.argv) > 2:
    for l in open(sys.argv[2]):
        m = re.search(r'spawn→all (\d+) ms, ready→all (\d+) ms', l)
        if m:
            marks['all'] = int(m.group(1))
            marks['ready'] = int(m.group(1)) - int(m.group(2))
bins = {}
for t, m, wk, n in rows:
    b = int((t - t0) // w)
    bins.setdefault(b, []).append((m, wk))
idle_tail = 0.0
for b in sorted(bins):
    if b < 0:
        continue
    xs = bins[b]
    m = sum(x for x, _ in xs) / len(xs)
    wk = sum(y for _, y in xs) / len(xs)
    tag = ''
    for k, v in marks.items():
        if b * w <= v < (b + 1) * w:
            tag += f' <- {k} ({v} ms)'
    if 'ready' in marks and marks['ready'] <= b * w < marks['all']:
        idle_tail += (2 - m) * w / 1000
    print(f'{b*w/1000:6.1f} s  machine {m:4.2f}  workers {wk:4.2f}{tag}')
    if 'all' in marks and b * w > marks['all'] + 3000:
        break
if marks:
    print(f'idle core-seconds between last ready and all: {idle_tail:.1f} (of {2*(marks["all"]-marks["ready"])/1000:.1f})')
