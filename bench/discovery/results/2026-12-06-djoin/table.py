#!/usr/bin/env python3
"""The join path's figures per scale.ts log (scale-ab.sh's, --timeline for first links):
python3 table.py LOG...  First link: ms from an agent's ready to its first mesh link, over all
agents (the timeline). Resets: seed dials reset at accept, as printed by --timeline (only the
agents whose first link came over 2 s after their ready)."""
import re, sys

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float('nan')

print('| run | start (UTC), load | end load | ready→all ms | CPU ms/agent after ready | conns opened mean (max) | dialed per agent: link / seed / relay; accepted | peak held max (at open) | handed off | inbound refused at bound (top 4) | resets (late joiners) | first link p50 / p90 / max ms | kill→all ms | leaves |')
print('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
for path in sys.argv[1:]:
    t = open(path).read()
    name = path.rsplit('/', 1)[-1].removesuffix('.log')
    st = re.search(r'^start (\S+) load (\S+)', t, re.M)
    en = re.search(r'^--- end (\S+) load (\S+)', t, re.M)
    run = re.search(r'^run 1 n=(\d+): .*ready→all (\d+) ms, kill→all (\S+) ms.*opened mean ([\d.]+) max (\d+), peak held \(100 ms samples\) mean [\d.]+ max (\d+), peak at open max (\d+), CPU ms/agent \d+ \(after ready (\d+);.*leaves (\d+)', t, re.M)
    by = re.search(r'connections opened per agent: accepted ([\d.]+), dialed for link ([\d.]+), seed ([\d.]+), relay ([\d.]+)', t)
    jp = re.search(r'join path: (?:joiners handed off (\d+), )?inbound refused at the bound (\d+) \(the four most: ([^)]*)\)', t)
    late = [int(m.group(2)) - int(m.group(1)) for m in re.finditer(r'^  (?:a\d+|victim) \| (\d+) \| (\d+) \|', t, re.M)]
    resets = len(re.findall(r'not reachable .*ECONNRESET', t))
    s = f'{st[1]}, {st[2]}' if st else '?'
    e = en[2] if en else '?'
    if not run:
        print(f'| {name} | {s} | {e} | did not converge | | | | | | | | | | |')
        continue
    fl = f'{pct(late, .5)} / {pct(late, .9)} / {max(late)}' if late else '—'
    b = f'{by[2]} / {by[3]} / {by[4]}; {by[1]}' if by else '—'
    j = (jp[1] or '—', f'{jp[2]} ({jp[3]})') if jp else ('—', '—')
    print(f'| {name} | {s} | {e} | {run[2]} | {run[8]} | {run[4]} ({run[5]}) | {b} | {run[6]} ({run[7]}) | {j[0]} | {j[1]} | {resets} | {fl} | {run[3]} | {run[9]} |')
