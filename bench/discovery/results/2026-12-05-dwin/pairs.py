"""Per pair B - A and medians, from scale-ab.sh logs: python3 pairs.py PREFIX... (e.g. ab-128 ab-128-more)"""
import glob, re, statistics, sys
def row(path):
  t = open(path).read()
  run = re.search(r'^run 1 n=(\d+): .*ready→all (\d+) ms, kill→all (\d+) ms.*after ready (\d+);.*leaves (\d+)', t, re.M)
  if not run: return None
  g = re.search(r'frames sent per agent by kind: gossip ([\d.]+)', t)
  f = re.search(r'gossip flushes per agent ([\d.]+)', t)
  fr = re.search(r'frames sent (\d+)', t)
  return dict(ready=int(run[2]), kill=int(run[3]), cpu=int(run[4]), leaves=int(run[5]),
              gossip=float(g[1]), frames=int(fr[1]) / int(run[1]), flushes=float(f[1]) if f else float('nan'))
keys = ['ready', 'cpu', 'frames', 'gossip', 'flushes', 'kill', 'leaves']
A, B, D = [], [], []
for pre in sys.argv[1:]:
  for a in sorted(glob.glob(f'{pre}-A*.log')):
    b = a.replace(f'{pre}-A', f'{pre}-B')
    ra, rb = row(a), row(b)
    if not ra or not rb: print('incomplete pair', a); continue
    A.append(ra); B.append(rb); D.append({k: rb[k] - ra[k] for k in keys})
    print(a.removesuffix('.log'), ' '.join(f'{k} {D[-1][k]:+.1f}' for k in keys))
for name, rs in (('A', A), ('B', B)):
  print(f'median {name} ({len(rs)}):', ' '.join(f'{k} {statistics.median(r[k] for r in rs):.1f}' for k in keys))
