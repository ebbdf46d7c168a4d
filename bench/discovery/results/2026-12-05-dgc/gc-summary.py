"""Summarizes gc-stats.mjs's gc-<pid>.json files (one per worker): per worker, the GCs after
its last 'ready' line up to its 'stats' line (the bench's "after ready" window) and over the
whole run, by kind: count and main-thread pause ms (wall); the MB allocated in the window
(heap used before each GC there minus after the one before it, from v8.GCProfiler, whose
entries come in the same order) and the heap used after the window's last GC. The last line
sums the workers."""
import json, sys, glob, collections
KIND = {1: 'scavenge', 2: 'mark-compact', 4: 'incremental', 8: 'weak-cb'}
files = sys.argv[1:] or sorted(glob.glob('/tmp/dgc/gc-*.json'))
tot = collections.defaultdict(lambda: [0, 0.0])
alloc_tot = 0.0
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
    e, h = d['entries'], d['heaps']
    # The observer's entries arrive asynchronously: the profiler may hold one more at exit.
    idx = [i for i, x in enumerate(e[: len(h)]) if r <= x[0] <= s] if len(h) - len(e) in (0, 1) else []
    alloc = sum(max(0, h[i][1] - h[i - 1][2]) for i in idx if i > 0) / 1e6
    alloc_tot += alloc
    last = h[idx[-1]][2] / 1e6 if idx else float('nan')
    print(f"{f}: window {r/1000:.1f}-{s/1000:.1f} s: allocated {alloc:.0f} MB, heap after the last GC {last:.0f} MB")
    print('   after ready: ' + ', '.join(f'{k} {c} ({ms:.0f} ms)' for k, (c, ms) in sorted(win.items())))
    print('   whole run:   ' + ', '.join(f'{k} {c} ({ms:.0f} ms)' for k, (c, ms) in sorted(allk.items())))
print(f'all workers after ready: allocated {alloc_tot:.0f} MB; ' + ', '.join(f'{k} {c} ({ms:.0f} ms)' for k, (c, ms) in sorted(tot.items())))
