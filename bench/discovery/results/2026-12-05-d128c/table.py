"""This section's table from scale-ab.sh logs, with the record tree's counters: python3 table.py LOG...

Columns beyond ../2026-12-05-dcpu2/table.py: records and alives heard again per agent,
gossip frames and gossip KiB sent per agent, records pulled after an announcement (grafts)
per agent. Then, per side (A: logs named *-A*, B: *-B*), the medians and in how many pairs B < A.
"""
import re, statistics, sys

cols = ['ready', 'cpu', 'main', 'helpers', 'again', 'gframes', 'gkib', 'kib', 'kill']
print('| run | start (UTC), load | ready→all ms | CPU ms/agent after ready | main / helpers / engines | records heard again/agent | gossip frames/agent | gossip KiB/agent | KiB sent/agent | grafts/agent | kill→all ms | spurious leaves |')
print('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
rows = {}
for path in sys.argv[1:]:
    t = open(path).read()
    name = path.rsplit('/', 1)[-1].removesuffix('.log')
    st = re.search(r'^start (\S+) load (\S+)', t, re.M)
    run = re.search(r'^run 1 n=\d+: .*ready→all (\d+) ms, kill→all (\d+) ms.*after ready (\d+);.*leaves (\d+)', t, re.M)
    if not run:
        print(f'| {name} | {st[1] if st else ""}, {st[2] if st else ""} | did not converge | | | | | | | | | |')
        continue
    th = re.search(r'by thread: main (\d+), V8/libuv helpers (\d+), .*TCP engines\) (\d+)', t)
    kib = re.search(r'^\d+ \| \d+ \| \d+ \[[^]]*\] \| [^|]*\| ([\d.]+) ', t, re.M)
    again = re.search(r'heard again per agent ([\d.]+)', t)
    gf = re.search(r'frames sent per agent by kind: gossip ([\d.]+)', t)
    gk = re.search(r'KiB sent per agent by kind: gossip ([\d.]+)', t)
    gr = re.search(r'records pulled after an announcement ([\d.]+)', t)
    r = dict(ready=int(run[1]), cpu=int(run[3]), main=int(th[1]), helpers=int(th[2]), again=float(again[1]),
             gframes=float(gf[1]), gkib=float(gk[1]), kib=float(kib[1]), kill=int(run[2]))
    rows[name] = r
    print(f'| {name} | {st[1]}, {st[2]} | {run[1]} | {run[3]} | {th[1]} / {th[2]} / {th[3]} | {again[1]} | {gf[1]} | {gk[1]} | {kib[1]} | {gr[1] if gr else "(none)"} | {run[2]} | {run[4]} |')
a = {k: v for k, v in rows.items() if re.search(r'-A\d+$', k)}
b = {k: v for k, v in rows.items() if re.search(r'-B\d+$', k)}
pairs = [(a[k], b[k.replace('-A', '-B')]) for k in a if k.replace('-A', '-B') in b]
print()
for c in cols:
    if not a or not b:
        break
    ma = statistics.median(x[c] for x in a.values())
    mb = statistics.median(x[c] for x in b.values())
    lower = sum(1 for x, y in pairs if y[c] < x[c])
    print(f'    {c}: A median {ma:g}, B median {mb:g} ({(mb - ma) / ma * 100:+.0f} %); B lower in {lower} of {len(pairs)} pairs')
