import re, sys, glob
print('| run | start (UTC), load | ready→all ms | CPU ms/agent after ready | main / helpers / engines | KiB sent/agent | frames sent/agent | verify: wall ms/agent, median µs | records heard again/agent | kill→all ms | spurious leaves |')
print('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
for f in sys.argv[1:]:
  s = open(f).read()
  name = re.sub(r'.*/|\.log$', '', f)
  st = re.search(r'^start (\S+) load (\S+)', s, re.M)
  run = re.search(r'ready→all (\d+) ms, kill→all (\d+) ms.*after ready (\d+);.*leaves (\d+)', s)
  if not run: print(f'| {name} | {st and st[1]} | (no result) |'); continue
  th = re.search(r'by thread: main (\d+), V8/libuv helpers (\d+), .*?engines\) (\d+)', s)
  tab = re.search(r'^\d+ \| \d+ \| \d+ \[.*?\] \| [^|]+\| ([\d.]+) \(', s, re.M)
  fr = re.search(r'frames sent (\d+),', s)
  n = int(re.search(r'run 1 n=(\d+)', s)[1])
  ver = re.search(r'verification wall time per agent ([\d.]+) ms \(mean (\d+) µs a call, median of the agents\' medians (\d+)', s)
  dup = re.search(r'heard again per agent ([\d.]+)', s)
  print(f'| {name} | {st[1]}, {st[2]} | {run[1]} | {run[3]} | {th[1]} / {th[2]} / {th[3]} | {tab[1]} | {int(fr[1])/n:.0f} | {ver[1]}, {ver[3]} | {dup[1]} | {run[2]} | {run[4]} |')
