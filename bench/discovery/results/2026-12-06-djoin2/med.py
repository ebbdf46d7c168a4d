#!/usr/bin/env python3
"""Medians over pairs (after / before) of the table's figures: python3 med.py PREFIX... (the
PREFIX-before.log and PREFIX-after.log of each pair)."""
import re, statistics, sys

def figs(path):
    t = open(path).read()
    run = re.search(r'^run 1 n=\d+: .*ready→all (\d+) ms, kill→all (\d+) ms, conns mean ([\d.]+).*opened mean ([\d.]+).*after ready (\d+);.*leaves (\d+)', t, re.M)
    by = re.search(r'dialed for link ([\d.]+)', t)
    acc = re.search(r'accepted ([\d.]+)', t)
    ref = re.search(r'inbound refused at the bound (\d+)', t)
    shed = re.search(r'links shed as extra (\d+)', t)
    dup = re.search(r'heard again per agent ([\d.]+)', t)
    late = sorted(int(m.group(2)) - int(m.group(1)) for m in re.finditer(r'^  (?:a\d+|victim) \| (\d+) \| (\d+) \|', t, re.M))
    p = lambda q: late[min(len(late) - 1, int(q * len(late)))]
    return {'ready→all ms': int(run[1]), 'CPU ms/agent after ready': int(run[5]), 'conns opened/agent': float(run[4]),
            'link dials/agent': float(by[1]), 'accepted/agent': float(acc[1]), 'held at end': float(run[3]),
            'refused at bound': int(ref[1]), 'shed': int(shed[1]), 'records heard again/agent': float(dup[1]),
            'first link p50 ms': p(.5), 'first link p90 ms': p(.9), 'kill→all ms': int(run[2]), 'leaves': int(run[6])}

pairs = [(figs(f'{p}-after.log'), figs(f'{p}-before.log')) for p in sys.argv[1:]]
print('| figure | after (median) | before (median) | pairs where after is lower |')
print('| --- | --- | --- | --- |')
for k in pairs[0][0]:
    a = [x[0][k] for x in pairs]; b = [x[1][k] for x in pairs]
    lower = sum(1 for x, y in zip(a, b) if x < y)
    print(f'| {k} | {statistics.median(a):g} | {statistics.median(b):g} | {lower} of {len(pairs)} |')
