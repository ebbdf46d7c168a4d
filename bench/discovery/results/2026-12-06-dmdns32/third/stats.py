"""Per tree over the mDNS pairs: ready→all, runs under 2 s, CPU per agent after ready (and its
main thread), kill→all, spurious leaves, max connections; pairs won per order.
python3 stats.py  (in this folder)"""
import glob, re, statistics as st
def run(p):
    t = open(p).read()
    g = lambda r: (re.search(r, t, re.M) or [None, None])[1]
    return dict(r=int(g(r'ready→all (\d+) ms')), cpu=int(g(r'after ready (\d+)')), main=int(g(r'after ready by thread: main (\d+)')),
                kill=int(g(r'kill→all (\d+)')), leaves=int(g(r'leaves (\d+)')), conns=int(g(r'conns mean \S+ max (\d+)')),
                peak=int(g(r'peak at open max (\d+)')), load=float(g(r'^start \S+ load (\S+)')))
side = {'main': [], 'branch': []}
won = {'ab': [0, 0, 0], 'ba': [0, 0, 0]}
for f in sorted(glob.glob('mdns-*-A1.log')):
    order = re.search(r'mdns-(ab|ba)\d', f)[1]
    a, b = run(f), run(f.replace('-A1', '-B1'))
    m, br = (a, b) if order == 'ab' else (b, a)
    side['main'].append(m); side['branch'].append(br)
    won[order][0] += 1; won[order][1] += br['r'] < m['r']; won[order][2] += br['cpu'] < m['cpu']
for k, rs in side.items():
    r = [x['r'] for x in rs]
    print(f"{k}: ready→all median {st.median(r):.0f} [{min(r)}-{max(r)}], under 2 s {sum(x < 2000 for x in r)} of {len(r)}, "
          f"CPU after ready median {st.median([x['cpu'] for x in rs]):.0f} (main thread {st.median([x['main'] for x in rs]):.0f}), "
          f"kill→all {min(x['kill'] for x in rs)}-{max(x['kill'] for x in rs)}, leaves {sum(x['leaves'] for x in rs)}, "
          f"max conns {max(x['conns'] for x in rs)} (at open {max(x['peak'] for x in rs)})")
for o, (n, w, c) in won.items():
    print(f"{o} ({'main' if o == 'ab' else 'branch'} first): branch earlier in {w} of {n}, less CPU after ready in {c} of {n}")
quiet = [(run(f), run(f.replace('-A1', '-B1'))) for f in sorted(glob.glob('mdns-*-A1.log'))]
print('runs started at load < 2:', {k: f"{sum(x['r'] < 2000 for x in rs if x['load'] < 2)} of {sum(x['load'] < 2 for x in rs)} under 2 s" for k, rs in side.items()})
