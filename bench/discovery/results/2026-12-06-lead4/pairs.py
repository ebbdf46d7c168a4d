#!/usr/bin/env python3
"""Pairs of the lead's runs: PREFIX-A1.log ran first, PREFIX-B1.log second; 'ab' prefixes
have the first tree (before / nosim2) as A, 'ba' prefixes the second tree (main) as A.
Usage: pairs.py GROUP... (e.g. s128 r128 m32 s32 x32 x128)."""
import glob, re, statistics, sys

def run(path):
    t = open(path).read()
    m = re.search(r'ready→all (\d+) ms', t)
    c = re.search(r'after ready (\d+)', t)
    s = re.search(r'^start (\S+) load (\S+)', t, re.M)
    return (int(m.group(1)) if m else None, int(c.group(1)) if c else None, s.group(1) if s else '?', s.group(2) if s else '?')

for group in sys.argv[1:]:
    first, second, won = [], [], 0
    print(f'## {group}\n\n| pair | order | first tree: ready→all ms / CPU ms (start, load) | main: ready→all ms / CPU ms (start, load) |\n|---|---|---|---|')
    for a in sorted(glob.glob(f'{group}-*-A1.log')):
        pre = a[:-len('-A1.log')]
        b = pre + '-B1.log'
        ra, rb = run(a), run(b)
        order = pre.split('-')[-1]
        old, new = (ra, rb) if order.startswith('ab') else (rb, ra)
        if old[0] is None or new[0] is None: continue
        first.append(old[0]); second.append(new[0]); won += new[0] < old[0]
        print(f'| {pre} | {"first tree first" if order.startswith("ab") else "main first"} | {old[0]} / {old[1]} ({old[2]}, {old[3]}) | {new[0]} / {new[1]} ({new[2]}, {new[3]}) |')
    if first:
        print(f'\nmedians: first tree {statistics.median(first):.0f} ms, main {statistics.median(second):.0f} ms; main earlier in {won} of {len(first)} pairs\n')
