#!/usr/bin/env python3
"""One table row per scale.ts log: python3 summarize.py LOG..."""
import re, sys

def grab(pat, text, default='—'):
    m = re.search(pat, text)
    return m.group(1) if m else default

print('| run | start (UTC, load) | end load | ready→all ms | CPU ms/agent after ready (main / helpers) | conns opened mean (max) | held at end mean | dialed per agent: link / seed / relay | shed | suspicions held | gossip frames/agent | kill→all ms | leaves |')
print('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
for path in sys.argv[1:]:
    t = open(path).read()
    name = path.rsplit('/', 1)[-1].removesuffix('.log')
    start = re.search(r'^start (\S+) load (\S+)', t, re.M)
    end = re.search(r'^--- end (\S+) load (\S+)', t, re.M)
    run = re.search(r'ready→all (\d+) ms, kill→all (\d+) ms, conns mean (\S+) max \d+, opened mean (\S+) max (\d+).*after ready (\d+);.*leaves (\d+)', t)
    thr = re.search(r'by thread: main (\d+), V8/libuv helpers (\d+)', t)
    by = re.search(r'dialed for link ([\d.]+), seed ([\d.]+), relay ([\d.]+)', t)
    if not run:
        print(f'| {name} | {start.group(1) if start else "—"}, {start.group(2) if start else "—"} | {end.group(2) if end else "—"} | did not converge | | | | | | | | | |')
        continue
    shed = grab(r'links shed as extra (\d+)', t)
    susp = grab(r'suspicions held (\d+)', t)
    gossip = grab(r'frames sent per agent by kind: gossip (\S+),', t)
    print(
        f'| {name} | {start.group(1)}, {start.group(2)} | {end.group(2) if end else "—"} | {run.group(1)} | '
        f'{run.group(6)} ({thr.group(1)} / {thr.group(2)}) | {run.group(4)} ({run.group(5)}) | {run.group(3)} | '
        f'{" / ".join(by.groups()) if by else "—"} | {shed} | {susp} | {gossip} | '
        f'{run.group(2)} | {run.group(7)} |'
    )
