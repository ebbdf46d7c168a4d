"""Pairs of scale-ab.sh logs -> table. Usage (in the folder of the logs): python3 t.py PREFIX...
A prefix ending in `ab` (then a pair number) ran before (A) then after (B); one ending in `ba`
ran after first. Per run: ready→all ms / CPU ms per agent after ready (main / helpers by
thread), start time, load; then medians per order and over all, and the pairs after won."""
import glob, re, statistics, sys
def run(p):
    t = open(p).read()
    g = lambda r: (re.search(r, t, re.M) or [None, None])[1]
    return dict(r=int(g(r'ready→all (\d+) ms') or 0), cpu=int(g(r'after ready (\d+)') or 0),
                main=int(g(r'after ready by thread: main (\d+)') or 0), helpers=int(g(r'V8/libuv helpers (\d+)') or 0),
                st=g(r'^start (\S+)'), ld=g(r'^start \S+ load (\S+)'), kill=g(r'kill→all (\d+)'), leaves=g(r'leaves (\d+)'),
                conns=g(r'conns mean \S+ max (\d+)'))
fmt = lambda x: f"{x['r']} / {x['cpu']} ({x['main']} / {x['helpers']}) ({x['st']}, {x['ld']}; kill {x['kill']}, leaves {x['leaves']}, max conns {x['conns']})"
med = lambda v: f'{statistics.median(v):.0f}' if v else '-'
for kind in sys.argv[1:]:
    rows = {'before first': [], 'after first': []}
    print(f'\n{kind}: pair | order | before: ready→all / CPU after ready (main / helpers) (start, load; …) | after: same')
    for a in sorted(glob.glob(f'{kind}*-A*.log')):
        b = a.replace('-A', '-B')
        try: ra, rb = run(a), run(b)
        except FileNotFoundError: continue
        if not ra['r'] or not rb['r']: print(f'{a}: incomplete'); continue
        pre = a[:-len('-A1.log')]
        bf = re.sub(r'\d+$', '', pre).endswith('ab')
        o, n = (ra, rb) if bf else (rb, ra)
        order = 'before first' if bf else 'after first'
        rows[order].append((o, n))
        print(f"{a[:-4]} | {order} | {fmt(o)} | {fmt(n)}")
    for order, rs in list(rows.items()) + [('all', rows['before first'] + rows['after first'])]:
        if not rs: continue
        o = [x for x, _ in rs]; n = [y for _, y in rs]
        won = sum(y['r'] < x['r'] for x, y in rs); cw = sum(y['cpu'] < x['cpu'] for x, y in rs)
        print(f"{order}: {len(rs)} pairs; ready→all medians {med([x['r'] for x in o])} → {med([x['r'] for x in n])} (after earlier in {won} of {len(rs)}); "
              f"CPU after ready {med([x['cpu'] for x in o])} → {med([x['cpu'] for x in n])} (lower in {cw}), main {med([x['main'] for x in o])} → {med([x['main'] for x in n])}, "
              f"helpers {med([x['helpers'] for x in o])} → {med([x['helpers'] for x in n])} (lower in {sum(y['helpers'] < x['helpers'] for x, y in rs)})")
