"""--trace-opt --trace-deopt output of scale.ts's workers (one file per worker) -> TurboFan
compilations per worker, the compile time (V8's three phases: prepare, the background
thread's execute, finalize), and the functions that cost the most, summed over the files."""
import re, sys, collections
RX = re.compile(r'\[completed compiling 0x[0-9a-f]+ <JSFunction (\S*) \(sfi = (0x[0-9a-f]+)\)> \(target (\w+)\)(?: - took ([\d.]+), ([\d.]+), ([\d.]+) ms)?')
by = collections.defaultdict(lambda: [0, 0.0])
for f in sys.argv[1:]:
    n = 0; total = [0.0, 0.0, 0.0]; deopts = 0; osr = 0
    for line in open(f, errors='replace'):
        if 'bailout (kind: deopt' in line or '[bailout (kind:' in line: deopts += 1
        m = RX.search(line)
        if not m or m[4] is None: continue
        n += 1
        t = [float(m[4]), float(m[5]), float(m[6])]
        for i in range(3): total[i] += t[i]
        k = (m[1] or '(anon)') + ' ' + m[3]
        by[k][0] += 1; by[k][1] += sum(t)
    print(f'{f}: {n} compilations, ms prepare {total[0]:.0f} execute {total[1]:.0f} finalize {total[2]:.0f}; deopts {deopts}')
tot = sum(v[1] for v in by.values())
print(f'-- most expensive functions (all files; {tot:.0f} ms in all)')
for k, (c, ms) in sorted(by.items(), key=lambda x: -x[1][1])[:45]:
    print(f'{ms:8.1f} ms {100*ms/tot:5.1f} % {c:4d}x  {k}')
