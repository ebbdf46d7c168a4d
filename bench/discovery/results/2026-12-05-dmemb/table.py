"""This section's tables from scale-ab.sh logs, and the medians of A and B: python3 table.py LOG..."""
import re, statistics, sys
print('| run | start (UTC), load | ready→all ms | CPU ms/agent after ready | main / helpers / engines | KiB sent/agent | frames sent/agent | records a load pass | kill→all ms | spurious leaves |')
print('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
cols = {'A': {}, 'B': {}}
for path in sys.argv[1:]:
  t = open(path).read()
  name = path.rsplit('/', 1)[-1].removesuffix('.log')
  side = re.search(r'-([AB])\d+$', name)[1]
  st = re.search(r'^start (\S+) load (\S+)', t, re.M)
  n = int(re.search(r'--sizes (\d+)', t)[1]) if re.search(r'--sizes (\d+)', t) else None
  run = re.search(r'^run 1 n=(\d+): .*ready→all (\d+) ms, kill→all (\d+) ms.*after ready (\d+);.*leaves (\d+)', t, re.M)
  th = re.search(r'by thread: main (\d+), V8/libuv helpers (\d+), .*TCP engines\) (\d+)', t)
  kib = re.search(r'^\d+ \| \d+ \| \d+ \[[^]]*\] \| [^|]*\| ([\d.]+) ', t, re.M)
  fr = re.search(r'frames sent (\d+)', t)
  lp = re.search(r'\(([\d.]+) records a pass\)', t)
  if not run:
    print(f'| {name} | {st[1]}, {st[2]} | did not converge | | | | | | | |' if st else f'| {name} | (no start) | | | | | | | | |')
    continue
  agents = int(run[1])
  frames = f'{int(fr[1]) / agents:.0f}' if fr else ''
  row = {'ready': int(run[2]), 'cpu': int(run[4]), 'main': int(th[1]), 'helpers': int(th[2])}
  for k, v in row.items(): cols[side].setdefault(k, []).append(v)
  print(f'| {name} | {st[1]}, {st[2]} | {run[2]} | {run[4]} | {th[1]} / {th[2]} / {th[3]} | {kib[1] if kib else ""} | {frames} | {lp[1] if lp else "(1)"} | {run[3]} | {run[5]} |')
print()
for k in ('ready', 'cpu', 'main', 'helpers'):
  a, b = cols['A'].get(k, []), cols['B'].get(k, [])
  if a and b:
    lower = sum(1 for x, y in zip(a, b) if y < x)
    print(f'{k}: A median {statistics.median(a)} ({min(a)}-{max(a)}), B median {statistics.median(b)} ({min(b)}-{max(b)}); B lower in {lower} of {min(len(a), len(b))} pairs')
