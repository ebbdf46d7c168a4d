"""The A/B pairs of chain2.sh: ready→all per run with start time and load, per order, medians,
and which side was earlier in each pair. python3 pairs.py PREFIX (mdns or seeds)"""
import re, statistics as st, sys, os
pre = sys.argv[1]
rows, a_all, b_all, wins = [], [], [], {'A': 0, 'B': 0}
by_order = {'ab': ([], []), 'ba': ([], [])}
for order in ('ab', 'ba'):
    for i in (1, 2, 3, 4):
        r = {}
        for side in 'AB':
            p = f'{pre}-{order}{i}-{side}1.log'
            if not os.path.exists(p): continue
            t = open(p).read()
            s = re.search(r'^start (\S+) load (\S+)', t, re.M)
            m = re.search(r'ready→all (\d+) ms.*peak held \(100 ms samples\) mean [\d.]+ max (\d+).*after ready (\d+);.*leaves (\d+)', t)
            if s and m: r[side] = (int(m[1]), s[1], s[2], m[2], m[3], m[4])
        if len(r) < 2: continue
        a, b = r['A'][0], r['B'][0]
        a_all.append(a); b_all.append(b)
        by_order[order][0].append(a); by_order[order][1].append(b)
        wins['A' if a < b else 'B'] += 1
        first = 'before' if order == 'ab' else 'after'
        rows.append(f"| {order}{i} ({first} first) | {a} ({r['A'][1]}, {r['A'][2]}; CPU {r['A'][4]}, peak {r['A'][3]}, leaves {r['A'][5]}) | {b} ({r['B'][1]}, {r['B'][2]}; CPU {r['B'][4]}, peak {r['B'][3]}, leaves {r['B'][5]}) | {'after' if b < a else 'before'} |")
print('| pair | before (a991072): ready→all ms (start UTC, load; CPU ms/agent after ready, peak conns held, spurious leaves) | after (this branch) | earlier |')
print('| --- | --- | --- | --- |')
print('\n'.join(rows))
for order in ('ab', 'ba'):
    A, B = by_order[order]
    if A: print(f'{order}: before median {st.median(A):.0f}, after median {st.median(B):.0f} ({len(A)} pairs)')
if a_all: print(f'all: before median {st.median(a_all):.0f}, after median {st.median(b_all):.0f}; earlier in pairs: before {wins["A"]}, after {wins["B"]}')
