"""Summarizes gc-stats.mjs's /tmp/dgc/gc-<pid>.json files: per worker, GCs after its last
'ready' line up to its 'stats' line (the bench's "after ready" window) and over the whole
run, by kind: count, main-thread pause ms, MB freed; and MB allocated (heap growth between
GCs, from the GCProfiler's before/after)."""
import json, sys, glob, collections
KIND = {1: 'scavenge', 2: 'mark-compact', 4: 'incremental', 8: 'weak-cb'}
files = sys.argv[1:] or sorted(glob.glob('/tmp/dgc/gc-*.json'))
tot = collections.defaultdict(lambda: [0, 0.0])
for f in files:
    d = json.load(open(f))
    r, s = d['readyAt'], d['statsAt'] or 1e18
    win = collections.defaultdict(lambda: [0, 0.0])
    allk = collections.defaultdict(lambda: [0, 0.0])
    for at, us, kind in d['entries']:
        k = KIND.get(kind, str(kind))
        allk[k][0] += 1; allk[k][1] += us / 1000
        if r <= at <= s:
            win[k][0] += 1; win[k][1] += us / 1000
            tot[k][0] += 1; tot[k][1] += us / 1000
    heaps = d['heaps']
    alloc = sum(max(0, heaps[i][1] - heaps[i - 1][2]) for i in range(1, len(heaps)))
    freed = sum(max(0, b - a) for _, b, a, _ in heaps)
    print(f"{f}: window {r/1000:.1f}-{s/1000:.1f} s; {len(d['entries'])} GCs in all, allocated between GCs {alloc/1e6:.0f} MB, freed {freed/1e6:.0f} MB")
    print('   after ready: ' + ', '.join(f'{k} {c} ({ms:.0f} ms)' for k, (c, ms) in sorted(win.items())))
    print('   whole run:   ' + ', '.join(f'{k} {c} ({ms:.0f} ms)' for k, (c, ms) in sorted(allk.items())))
print('all workers after ready: ' + ', '.join(f'{k} {c} ({ms:.0f} ms)' for k, (c, ms) in sorted(tot.items())))
