"""dframes' table.py, then a second table: messages sent per agent by reason (Membership.sentFor)
and frames per agent by kind, per run: python3 table.py LOG..."""
import re, sys
print('| run | start (UTC), load | ready→all ms | CPU ms/agent after ready | main / helpers / engines | KiB sent/agent | frames/agent | messages/agent | gossip messages/agent | flushes/agent | suspicions raised | kill→all ms | spurious leaves | conns mean (max) |')
print('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
for path in sys.argv[1:]:
  t = open(path).read()
  name = path.rsplit('/', 1)[-1].removesuffix('.log')
  st = re.search(r'^start (\S+) load (\S+)', t, re.M)
  run = re.search(r'^run 1 n=(\d+): .*ready→all (\d+) ms, kill→all (\d+) ms, conns mean ([\d.]+) max (\d+).*after ready (\d+);.*leaves (\d+)', t, re.M)
  th = re.search(r'by thread: main (\d+), V8/libuv helpers (\d+), .*TCP engines\) (\d+)', t)
  kib = re.search(r'^\d+ \| \d+ \| \d+ \[[^]]*\] \| [^|]*\| ([\d.]+) ', t, re.M)
  fr = re.search(r'frames sent (\d+)', t)
  kinds = re.search(r'frames sent per agent by kind: (.*)', t)
  msgs = sum(float(x) for x in re.findall(r' ([\d.]+)(?:,|$)', kinds[1])) if kinds else None
  gf = re.search(r'frames sent per agent by kind: gossip ([\d.]+)', t)
  fl = re.search(r'gossip flushes per agent ([\d.]+)', t)
  rs = re.search(r'\(raised (\d+)\)', t)
  if not run:
    print(f'| {name} | {st[1]}, {st[2]} | did not converge in 90 s | | | | | | | | | | | |' if st else f'| {name} | (no start) | | | | | | | | | | | | |')
    continue
  per = f'{int(fr[1]) / int(run[1]):.1f}' if fr else ''
  print(f'| {name} | {st[1]}, {st[2]} | {run[2]} | {run[6]} | {th[1]} / {th[2]} / {th[3]} | {kib[1] if kib else ""} | {per} | {msgs:.1f} | {gf[1] if gf else ""} | {fl[1] if fl else ""} | {rs[1] if rs else ""} | {run[3]} | {run[7]} | {run[4]} ({run[5]}) |')

REASONS = ['flush', 'anti-entropy', 'digest-answer', 'link-record', 'correct', 'link-digest', 'entries-pull', 'pull-answer', 'entries-push', 'digest-equal', 'ack', 'probe', 'shed']
KINDS = ['gossip', 'digest', 'entries', 'pull', 'ping', 'ack', 'ping-req', 'unlink']
print()
print('| run | ' + ' | '.join(REASONS) + ' | all reasons | ' + ' | '.join(f'{k} frames' for k in KINDS) + ' |')
print('| --- ' * (len(REASONS) + len(KINDS) + 2) + '|')
for path in sys.argv[1:]:
  t = open(path).read()
  name = path.rsplit('/', 1)[-1].removesuffix('.log')
  rs = re.search(r'messages sent per agent by reason: (.*)', t)
  ks = re.search(r'frames sent per agent by kind: (.*)', t)
  if not rs:
    continue
  r = dict((k, float(v)) for k, v in re.findall(r'([a-z-]+) ([\d.]+)', rs[1]))
  k = dict((a, float(v)) for a, v in re.findall(r'([a-z-]+) ([\d.]+)', ks[1])) if ks else {}
  print(f'| {name} | ' + ' | '.join(f'{r.get(x, 0):.1f}' for x in REASONS) + f' | {sum(r.values()):.1f} | ' + ' | '.join(f'{k.get(x, 0):.1f}' for x in KINDS) + ' |')
