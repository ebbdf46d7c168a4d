#!/usr/bin/env python3
"""Per pair (chain.sh's names: PREFIX-ab<k>-A1/B1 with main first, PREFIX-ba<k>-A1/B1 with the
branch first): main's and the branch's figures side by side, the branch − main difference, then
medians per side and how many pairs each side won.  python3 pairs.py PREFIX...
(e.g. w1000-128 w1000-32 w640-128), run in this folder."""
import glob, re, statistics, sys

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float('nan')

def figures(path):
    t = open(path).read()
    f = {}
    st = re.search(r'^start (\S+) load (\S+)', t, re.M)
    en = re.search(r'^--- end (\S+) load (\S+)', t, re.M)
    f['start'] = f'{st[1]}, {st[2]}' if st else '?'
    f['end load'] = en[2] if en else '?'
    run = re.search(r'^run 1 n=\d+: .*ready→all (\d+) ms, kill→all (\S+) ms.*after ready (\d+);.*leaves (\d+)', t, re.M)
    if not run:
        return f
    f['ready→all ms'] = int(run[1])
    f['kill→all ms'] = float(run[2]) if run[2] != 'NaN' else float('nan')
    f['CPU after ready'] = int(run[3])
    f['spurious leaves'] = int(run[4])
    th = re.search(r'by thread: main (\d+), V8/libuv helpers (\d+)', t)
    f['main'] = int(th[1]); f['helpers'] = int(th[2])
    gf = re.search(r'frames sent per agent by kind: gossip ([\d.]+)', t)
    f['gossip frames'] = float(gf[1])
    fl = re.search(r'gossip flushes per agent ([\d.]+)(?: \(at the saturated window ([\d.]+)\))?', t)
    f['flushes'] = float(fl[1])
    f['saturated'] = float(fl[2]) if fl[2] else float('nan')
    fm = re.search(r'messages sent per agent by reason: flush ([\d.]+)', t)
    f['flush msgs'] = float(fm[1]) if fm else float('nan')
    late = [int(m.group(2)) - int(m.group(1)) for m in re.finditer(r'^  (?:a\d+|victim) \| (\d+) \| (\d+) \|', t, re.M)]
    f['first link p50'] = pct(late, .5); f['first link p90'] = pct(late, .9)
    return f

COLS = ['ready→all ms', 'CPU after ready', 'main', 'helpers', 'gossip frames', 'flush msgs', 'flushes', 'saturated',
        'first link p50', 'first link p90', 'kill→all ms', 'spurious leaves']
fmt = lambda v: '—' if v is None or v != v else (f'{v:.0f}' if abs(v) >= 100 or float(v).is_integer() else f'{v:.1f}')
for prefix in sys.argv[1:]:
    rows = []
    for a in sorted(glob.glob(f'{prefix}-*-A1.log')):
        b = a.replace('-A1.log', '-B1.log')
        if not glob.glob(b) or '--- end' not in open(b).read():
            continue
        order = re.search(r'-(ab|ba)\d+-A1\.log$', a)[1]
        main, branch = (a, b) if order == 'ab' else (b, a)
        rows.append((a.removesuffix('-A1.log'), order, figures(main), figures(branch)))
    print(f'\n### {prefix}\n')
    print('| pair (order) | side | start (UTC), load | end load | ' + ' | '.join(COLS) + ' |')
    print('| --- ' * (len(COLS) + 4) + '|')
    for name, order, m, br in rows:
        for side, f in (('main', m), ('branch', br)):
            print(f'| {name} ({"main first" if order == "ab" else "branch first"}) | {side} | {f["start"]} | {f["end load"]} | ' +
                  ' | '.join(fmt(f.get(c)) for c in COLS) + ' |')
        print(f'| | branch − main | | | ' + ' | '.join(fmt(br[c] - m[c]) if c in br and c in m else '—' for c in COLS) + ' |')
    for o in ('ab', 'ba'):
        sub = [r for r in rows if r[1] == o]
        label = 'main first' if o == 'ab' else 'branch first'
        for side, k in (('main', 2), ('branch', 3)):
            print(f'| medians, {label} ({len(sub)}) | {side} | | | ' + ' | '.join(fmt(statistics.median([r[k][c] for r in sub if c in r[k]] or [float("nan")])) for c in COLS) + ' |')
    print(f'| medians, all ({len(rows)}) | main | | | ' + ' | '.join(fmt(statistics.median([m[c] for _, _, m, _ in rows if c in m] or [float("nan")])) for c in COLS) + ' |')
    print(f'| medians, all ({len(rows)}) | branch | | | ' + ' | '.join(fmt(statistics.median([b[c] for _, _, _, b in rows if c in b] or [float("nan")])) for c in COLS) + ' |')
    won = [(o, b['ready→all ms'] < m['ready→all ms']) for _, o, m, b in rows if 'ready→all ms' in m and 'ready→all ms' in b]
    for o in ('ab', 'ba'):
        ws = [w for oo, w in won if oo == o]
        print(f'\nready→all, {"main first" if o == "ab" else "branch first"}: branch earlier in {sum(ws)} of {len(ws)} pairs')
    cpu = [b['CPU after ready'] < m['CPU after ready'] for _, _, m, b in rows if 'CPU after ready' in m and 'CPU after ready' in b]
    print(f'CPU after ready: branch lower in {sum(cpu)} of {len(cpu)} pairs')
