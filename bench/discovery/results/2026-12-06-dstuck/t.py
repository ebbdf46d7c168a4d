#!/usr/bin/env python3
"""The pairs' table (lead6's t.py, adapted: connections opened per agent and the
refused dials at the bound added, CPU medians, k of n for CPU too).
Usage: t.py PREFIX... (in this folder; PREFIXab: A = main, PREFIXba: A = the branch)"""
import glob, re, statistics, sys


def run(p):
    t = open(p).read()
    g = lambda r: (re.search(r, t, re.M) or [None, None])[1]
    return dict(
        r=int(g(r'ready→all (\d+) ms') or 0),
        cpu=int(g(r'after ready (\d+)') or 0),
        st=g(r'^start (\S+)'),
        ld=g(r'^start \S+ load (\S+)'),
        conns=g(r'conns mean \S+ max (\d+)'),
        peak=g(r'peak held \(100 ms samples\) mean \S+ max (\d+)'),
        atopen=g(r'peak at open max (\d+)'),
        opened=g(r'opened mean (\S+) max'),
        kill=g(r'kill→all (\d+)'),
        leaves=g(r'leaves (\d+)'),
        refused=g(r'inbound refused at the bound (\d+)'),
    )


for kind in sys.argv[1:]:
    old, new, won, cold, cnew, cwon = [], [], 0, [], [], 0
    print(f'\n{kind}: pair | order | main: ready→all ms / CPU ms per agent after ready (start, load; kill→all, spurious leaves, conns max held/100 ms peak/at open, opened per agent, refused at the bound) | branch: the same')
    for pre in sorted(set(re.sub(r'-[AB]\d\.log$', '', f) for f in glob.glob(kind + '*-A*.log'))):
        for i in range(1, 10):
            a, b = f'{pre}-A{i}.log', f'{pre}-B{i}.log'
            try:
                ra, rb = run(a), run(b)
            except FileNotFoundError:
                continue
            if not ra['r'] or not rb['r']:
                print(f'{pre}{i}: incomplete pair ({a}: {ra["r"]}, {b}: {rb["r"]})')
                continue
            bf = pre.endswith('ab')
            o, n = (ra, rb) if bf else (rb, ra)
            old.append(o['r']); new.append(n['r']); won += n['r'] < o['r']
            cold.append(o['cpu']); cnew.append(n['cpu']); cwon += n['cpu'] < o['cpu']
            fmt = lambda x: (f"{x['r']} / {x['cpu']} ({x['st']}, {x['ld']}; {x['kill']}, {x['leaves']}, "
                             f"{x['conns']}/{x['peak']}/{x['atopen']}, {x['opened']}, {x['refused']})")
            print(f"{pre}{i} | {'main first' if bf else 'branch first'} | {fmt(o)} | {fmt(n)}")
    if old:
        print(f'medians main {statistics.median(old):.0f} branch {statistics.median(new):.0f} ms; '
              f'branch earlier in {won} of {len(old)}; CPU after ready medians {statistics.median(cold):.0f} / '
              f'{statistics.median(cnew):.0f} ms, lower in {cwon} of {len(old)}')
