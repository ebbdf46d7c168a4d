#!/usr/bin/env python3
"""ready→all per pair and order, medians, and pairs won: python3 pairs.py PREFIX (e.g. mdns).
Logs PREFIX-abN-{A1,B1}.log (before first) and PREFIX-baN-{B1,A1}.log (after first)."""
import glob, re, statistics, sys
pre = sys.argv[1]
def read(path):
    t = open(path).read()
    st = re.search(r'^start (\S+) load (\S+)', t, re.M)
    r = re.search(r'^run 1 n=\d+: .*ready→all (\d+) ms', t, re.M)
    return (int(r[1]) if r else None), (f'{st[1]}, {st[2]}' if st else '?')
rows = {'ab': [], 'ba': []}
for order in ('ab', 'ba'):
    for a in sorted(glob.glob(f'{pre}-{order}*-A1.log')):
        b = a.replace('-A1.log', '-B1.log')
        rows[order].append((a.split('/')[-1][:-7], read(a), read(b)))
print('| pair | before ms (start UTC, load) | after ms (start UTC, load) |')
print('| --- | --- | --- |')
for order in ('ab', 'ba'):
    for name, (av, at), (bv, bt) in rows[order]:
        print(f'| {name} ({"before" if order == "ab" else "after"} first) | {av} ({at}) | {bv} ({bt}) |')
for order, label in (('ab', 'before first'), ('ba', 'after first'), (None, 'all')):
    rs = rows[order] if order else rows['ab'] + rows['ba']
    A = [r[1][0] for r in rs if r[1][0] and r[2][0]]; B = [r[2][0] for r in rs if r[1][0] and r[2][0]]
    won = sum(1 for a, b in zip(A, B) if b < a)
    if A:
        print(f'{label}: median before {statistics.median(A):.0f} ms, after {statistics.median(B):.0f} ms; after earlier in {won} of {len(A)} pairs')
