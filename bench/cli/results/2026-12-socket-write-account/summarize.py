#!/usr/bin/env python3
"""Per-transfer table from account.sh's output: for each cell, each busy
thread's system calls and context switches in the window divided by the
transfers in it: the answers the target (the C server) sent in the window,
one send call per transfer (WRITE: the ACK; READ: the data, one sendmsg)."""
import csv, glob, json, os, re, sys
from collections import defaultdict

d = sys.argv[1]
COLS = ['sendmsg', 'sendto', 'recvfrom', 'epoll_wait', 'sched_yield', 'futex', 'write', 'read', 'epoll_ctl', 'raw']

def switches(path):
    out = {}
    for line in open(path):
        f = line.split()
        if len(f) == 3: out[f[0]] = (int(f[1]), int(f[2]))
    return out

tags = sorted({re.match(r'stat-(.*)\.csv', os.path.basename(p)).group(1) for p in glob.glob(f'{d}/stat-*.csv')},
              key=lambda t: (t.startswith('reqresp'), t))
for tag in tags:
    txt = open(f'{d}/bench-{tag}.txt').read()
    if tag.startswith('reqresp'):
        lat = json.loads(txt.strip().splitlines()[-1])['mean']
    else:
        row = [l for l in txt.splitlines() if re.match(r'^\d+ +1 ', l)][0].split()
        lat = float(row[3])
    n = 1e6 / lat
    counts = defaultdict(dict)
    for r in csv.reader(l for l in open(f'{d}/stat-{tag}.csv') if l[0] != '#' and l.strip()):
        tid = r[0].rsplit('-', 1)[1]
        ev = r[3].split(':')[-1].replace('sys_enter_', '').replace('sys_enter', 'raw')
        if r[1].isdigit(): counts[tid][ev] = int(r[1])
    procs0 = sorted(int(p.split('-')[-1][:-4]) for p in glob.glob(f'{d}/sw0-{tag}-*.txt'))
    server = switches(f'{d}/sw1-{tag}-{procs0[1]}.txt')
    n = max(sum(counts.get(t, {}).get(k, 0) for k in ('sendmsg', 'sendto')) for t in server)
    procs = sorted(int(p.split('-')[-1][:-4]) for p in glob.glob(f'{d}/sw0-{tag}-*.txt'))
    print(f'\n### {tag}: {lat} µs per transfer (the cell), {n:.0f} transfers in the window')
    print('| thread | ' + ' | '.join(COLS) + ' | ctx-sw | vol | invol |')
    print('|---' * (len(COLS) + 4) + '|')
    for i, pid in enumerate(procs):
        s0, s1 = switches(f'{d}/sw0-{tag}-{pid}.txt'), switches(f'{d}/sw1-{tag}-{pid}.txt')
        for tid in s1:
            c = counts.get(tid, {})
            vol = s1[tid][0] - s0.get(tid, (0, 0))[0]
            inv = s1[tid][1] - s0.get(tid, (0, 0))[1]
            if c.get('raw', 0) < n * 0.05 and vol + inv < n * 0.05: continue
            side = ('client' if i == 0 else 'server') if tag.startswith('reqresp') else ('initiator' if i == 0 else 'target')
            role = f'{side} {"main" if tid == str(pid) else "thread"} {tid}'
            print(f'| {role} | ' + ' | '.join(f'{c.get(k, 0) / n:.2f}' for k in COLS) +
                  f' | {c.get("context-switches", 0) / n:.2f} | {vol / n:.2f} | {inv / n:.2f} |')
