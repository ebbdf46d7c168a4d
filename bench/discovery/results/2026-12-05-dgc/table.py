"""One row per ab-gc.sh log (LOGPREFIX-SIDEi.log, with its .gc/ folder beside it): start and
load, ready→all, CPU ms/agent after ready (main / helpers / engines), idle CPU µs/agent/s,
allocated MB per agent after ready, scavenges and their main-thread wall ms (all workers),
incremental marks, kill→all, spurious leaves; then medians by side."""
import re, sys, glob, json, statistics, subprocess, os, collections
rows = collections.defaultdict(list)
print('| run | start (UTC), load | ready→all ms | CPU ms/agent after ready | main / helpers / engines | idle CPU µs/agent/s | allocated MB/agent after ready | scavenges (ms) | incremental marks | kill→all ms | spurious leaves |')
print('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
for log in sys.argv[1:]:
    t = open(log).read()
    name = os.path.basename(log)[:-4]
    side = re.search(r'-([A-Z])\d+$', name)[1]
    st = re.search(r'^start (\S+) load (\S+)', t, re.M)
    run = re.search(r'^run 1 n=(\d+): .*ready→all (\d+) ms, kill→all (\d+) ms.*after ready (\d+);.*idle CPU µs/agent/s (\d+).*leaves (\d+)', t, re.M)
    th = re.search(r'by thread: main (\d+), V8/libuv helpers (\d+), threads started by the agents \(TCP engines\) (\d+)', t)
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run(['python3', f'{here}/gc-summary.py', *glob.glob(log[:-4] + '.gc/*.json')], capture_output=True, text=True).stdout
    gc = re.search(r'all workers after ready: allocated (\d+) MB; (.*)', out)
    if not (st and run and th and gc):
        print(f'| {name} | {st[1] if st else "?"}, {st[2] if st else "?"} | did not finish | | | | | | | | |'); continue
    n = int(run[1])
    kinds = dict((m[1], (int(m[2]), int(m[3]))) for m in re.finditer(r'(\S+) (\d+) \((\d+) ms\)', gc[2]))
    sc = kinds.get('scavenge', (0, 0)); inc = kinds.get('incremental', (0, 0))
    alloc = int(gc[1]) / (n - 1)  # the victim's process writes no file
    r = dict(ready=int(run[2]), cpu=int(run[4]), main=int(th[1]), helpers=int(th[2]), idle=int(run[5]), alloc=alloc, scav=sc[0], scavms=sc[1], inc=inc[0], kill=int(run[3]))
    rows[side].append(r)
    print(f'| {name} | {st[1]}, {st[2]} | {r["ready"]} | {r["cpu"]} | {th[1]} / {th[2]} / {th[3]} | {r["idle"]} | {alloc:.1f} | {sc[0]} ({sc[1]}) | {inc[0]} | {r["kill"]} | {run[6]} |')
print()
for side, rs in sorted(rows.items()):
    med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
    print(f'side {side} ({len(rs)} runs) medians: ' + ', '.join(f'{k} {v:.1f}' if isinstance(v, float) else f'{k} {v}' for k, v in med.items()))
