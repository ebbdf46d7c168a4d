"""scale.ts --text-dir files of a `--node-args "--trace-opt --trace-deopt"` run -> per worker:
TurboFan compilations, their ms (V8's prepare + background execute + finalize, wall time) and
deoptimizations before and after the worker's last agent was ready; then, over all files, the
functions compiled after ready by ms, those compiled more than once (by sfi: re-optimizations),
and the deopt reasons after ready.
The window after ready ends at --until MS (ms since spawn: the run's spawn→all + the settle
time, where the benchmark takes its CPU figures; a `#stats MS` line in a file bounds it too,
though scale.ts writes none yet); what comes later (the victim's kill, the idle window) is left
out.
Usage: trace-split.py [--until MS] FILE...   (lines: "MS_SINCE_SPAWN <V8 line>", "#ready AGENT MS")"""
import re, sys, collections
COMP = re.compile(r'\[completed compiling 0x[0-9a-f]+ <JSFunction (\S*) ?\(sfi = (0x[0-9a-f]+)\)> \(target (\w+)\)(?: (?:OSR )?- took ([\d.]+), ([\d.]+), ([\d.]+) ms)?')
DEOPT = re.compile(r'\[bailout \(kind: ([\w-]+), reason: ([^)]*)\): begin\. deoptimizing 0x[0-9a-f]+ <JSFunction (\S*) ?\(sfi = (0x[0-9a-f]+)\)>')
after_fn = collections.defaultdict(lambda: [0, 0.0])
reopt = collections.Counter()
deopt_after = collections.Counter()
deopt_all = collections.Counter()
tot = collections.Counter()
args = sys.argv[1:]
until = float('inf')
if args[:1] == ['--until']: until = int(args[1]); args = args[2:]
for f in args:
    lines = open(f, errors='replace').read().splitlines()
    readys = [int(l.split()[2]) for l in lines if l.startswith('#ready ')]
    if not readys: continue
    T = max(readys)
    end = min([until] + [int(l.split()[1]) for l in lines if l.startswith('#stats ')])
    c = {'b': [0, 0.0], 'a': [0, 0.0]}; d = {'b': 0, 'a': 0}
    seen = collections.Counter(); fnname = {}
    for l in lines:
        if l.startswith('#'): continue
        t, _, rest = l.partition(' ')
        if int(t) > end: break
        side = 'a' if int(t) > T else 'b'
        m = COMP.search(rest)
        if m and m[4] is not None:
            ms = float(m[4]) + float(m[5]) + float(m[6])
            c[side][0] += 1; c[side][1] += ms
            seen[m[2]] += 1; fnname[m[2]] = m[1] or '(anon)'
            if side == 'a':
                k = m[1] or '(anon)'
                after_fn[k][0] += 1; after_fn[k][1] += ms
            continue
        m = DEOPT.search(rest)
        if m:
            d[side] += 1
            deopt_all[(m[3] or '(anon)', m[2])] += 1
            if side == 'a': deopt_after[(m[3] or '(anon)', m[2])] += 1
    for s, n in seen.items():
        if n > 1: reopt[fnname[s]] += n - 1
    for k in 'ba':
        tot[k + 'c'] += c[k][0]; tot[k + 'ms'] += c[k][1]; tot[k + 'd'] += d[k]
    print(f'{f}: last ready {T} ms, window end {end} ms; before: {c["b"][0]} compilations {c["b"][1]:.0f} ms, {d["b"]} deopts; '
          f'after: {c["a"][0]} compilations {c["a"][1]:.0f} ms, {d["a"]} deopts; functions compiled more than once {sum(1 for n in seen.values() if n > 1)} (extra compiles {sum(n - 1 for n in seen.values() if n > 1)})')
print(f'all: before {tot["bc"]} compilations {tot["bms"]:.0f} ms {tot["bd"]} deopts; after {tot["ac"]} compilations {tot["ams"]:.0f} ms {tot["ad"]} deopts')
s = sum(v[1] for v in after_fn.values()) or 1
print('-- compiled after ready, by ms (all files)')
for k, (n, ms) in sorted(after_fn.items(), key=lambda x: -x[1][1])[:40]:
    print(f'{ms:8.1f} ms {100*ms/s:5.1f} % {n:4d}x  {k}')
print('-- re-optimizations (extra compilations of one function in one process; all files)')
for k, n in reopt.most_common(25): print(f'{n:4d}  {k}')
print('-- deopts after ready (function, reason)')
for k, n in deopt_after.most_common(30): print(f'{n:4d}  {k[0]}: {k[1]}')
print('-- deopts, whole run, by reason')
r = collections.Counter()
for (fn, why), n in deopt_all.items(): r[why] += n
for k, n in r.most_common(15): print(f'{n:4d}  {k}')
