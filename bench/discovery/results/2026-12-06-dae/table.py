"""dframes' table.py (run as is), then a second table: messages sent per agent by reason
(Membership.sentFor) and frames per agent by kind, per run: python3 table.py LOG..."""
import re, runpy, sys
from pathlib import Path

runpy.run_path(str(Path(__file__).resolve().parent.parent / '2026-12-06-dframes' / 'table.py'), run_name='__main__')
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
