import re, sys, collections
path, lo, hi, want = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
exec(open('/tmp/dcost/perfsplit.py').read().split('t0 = {}')[0].split('OWN = ')[0].replace('path, lo, hi = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])',''))
OWN = [(n, re.compile(r)) for n, r in OWNERS]
t0 = {}; c = collections.Counter(); leaf = collections.Counter(); n=0
cur=None
def flush(s):
  global n
  if not s: return
  pid, tid, t, frames = s
  if pid not in t0: t0[pid] = t
  rel = t - t0[pid]
  if rel < lo or rel > hi or pid != tid: return
  for i, f in enumerate(frames):
    hit = None
    for nm, r in OWN:
      if r.search(f): hit = nm; break
    if hit:
      if hit == want:
        n += 1
        m = re.search(r'JS:\S?(\S+) (\S+)', f)
        c[(m[1] + ' ' + m[2].split('node_modules/')[-1]) if m else re.sub(r'^\S+ ', '', f)[:110]] += 1
        # the first JS frame above (caller context)
        for g in frames[i+1:]:
          if 'JS:' in g and not re.search(r'node:internal|node:events', g):
            m2 = re.search(r'JS:\S?(\S+) (\S+)', g); leaf[m2[1] + ' ' + m2[2].split('node_modules/')[-1]] += 1; break
      break
for line in open(path, errors='replace'):
  m = re.match(r'\s*(\d+)/(\d+)\s+([\d.]+):', line)
  if m:
    flush(cur); cur = (int(m[1]), int(m[2]), float(m[3]), [])
  elif line.strip() and cur is not None: cur[3].append(line.strip())
flush(cur)
print(want, n)
for k, v in c.most_common(25): print(f'{v:5d} {k}')
print('-- nearest non-node JS caller')
for k, v in leaf.most_common(25): print(f'{v:5d} {k}')
