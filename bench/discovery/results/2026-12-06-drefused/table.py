"""The pairs' table: which tree ran (main = /tmp/main-before, branch = wt-d18refused, read from
the log's 'queued' line), ready→all, CPU ms per agent after ready (main threads / helpers),
inbound connections refused at a bound per agent (the refused dials: nearly all of them joiners
at the four seeds; 'the four most' are the seeds), connections opened per agent (mean) and what
the agents dialed for a seed, kill→all, spurious leaves, conns held mean (max).
python3 table.py LOG..."""
import re, sys
print('| run | tree | start (UTC), load | ready→all ms | CPU ms/agent after ready | main / helpers | refused per agent (four most) | conns opened/agent | seed conns/agent | kill→all ms | spurious leaves | conns mean (max) |')
print('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
for path in sys.argv[1:]:
  t = open(path).read()
  name = path.rsplit('/', 1)[-1].removesuffix('.log')
  tree = 'main' if '/tmp/main-before' in t.split('\n', 1)[0] else 'branch'
  st = re.search(r'^start (\S+) load (\S+)', t, re.M)
  run = re.search(r'^run 1 n=(\d+): .*ready→all (\d+) ms, kill→all (\d+) ms, conns mean ([\d.]+) max (\d+), opened mean ([\d.]+).*after ready (\d+);.*leaves (\d+)', t, re.M)
  th = re.search(r'by thread: main (\d+), V8/libuv helpers (\d+)', t)
  jp = re.search(r'join path: inbound refused at the bound (\d+) \(the four most: ([^)]*)\)', t)
  seed = re.search(r'connections opened per agent: .*seed ([\d.]+)', t)
  if not run:
    print(f'| {name} | {tree} | {st[1] + ", " + st[2] if st else "(no start)"} | did not converge | | | | | | | | |')
    continue
  n = int(run[1])
  ref = f'{int(jp[1]) / n:.2f} ({jp[2]})' if jp else ''
  print(f'| {name} | {tree} | {st[1]}, {st[2]} | {run[2]} | {run[7]} | {th[1] + " / " + th[2] if th else ""} | {ref} | {run[6]} | {seed[1] if seed else ""} | {run[3]} | {run[8]} | {run[4]} ({run[5]}) |')
