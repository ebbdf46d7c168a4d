"""Joins a worker's --trace-opt lines (scale.ts --text-dir file) with its V8 log (--log-code,
same run) to name where each TurboFan compilation's function lives (file:line:col, by the
shared function info's address) -> the compile ms after the worker's last ready, by source
position and by package.
The window ends as in trace-split.py (a `#stats` line, or --until MS).
Usage: trace-where.py [--until MS] TEXT_FILE V8_LOG [TEXT_FILE V8_LOG ...]
(WHERE_ALL=1: every function in the list, not the 60 costliest: for codec-share.py.)"""
import os, re, sys, collections, csv
COMP = re.compile(r'\[completed compiling 0x[0-9a-f]+ <JSFunction (\S*) ?\(sfi = (0x[0-9a-f]+)\)> \(target (\w+)\)(?: (?:OSR )?- took ([\d.]+), ([\d.]+), ([\d.]+) ms)?')
by_pos = collections.defaultdict(lambda: [0, 0.0]); by_pkg = collections.Counter()
unknown = 0.0
args = sys.argv[1:]
until = float('inf')
if args[:1] == ['--until']: until = int(args[1]); args = args[2:]
for text, log in zip(args[::2], args[1::2]):
    where = {}
    for row in csv.reader(open(log, errors='replace')):
        if len(row) > 7 and row[0] == 'code-creation' and row[1] == 'JS':
            where[int(row[7], 16)] = row[6]
    lines = open(text, errors='replace').read().splitlines()
    T = max(int(l.split()[2]) for l in lines if l.startswith('#ready '))
    end = min([until] + [int(l.split()[1]) for l in lines if l.startswith('#stats ')])
    for l in lines:
        if l.startswith('#'): continue
        t, _, rest = l.partition(' ')
        if int(t) > end: break
        if int(t) <= T: continue
        m = COMP.search(rest)
        if not m or m[4] is None: continue
        ms = float(m[4]) + float(m[5]) + float(m[6])
        w = where.get(int(m[2], 16) - 1)
        if w is None: unknown += ms; w = (m[1] or '(anon)') + ' ?'
        w = w.replace('file:///work/', '').replace('/work/', '')
        by_pos[w][0] += 1; by_pos[w][1] += ms
        pkg = 'node:' if ' node:' in w else (re.search(r'node_modules/((?:@[^/]+/)?[^/]+)', w) or re.search(r'(dist/[^/]+/[^/]+)', w) or [None, 'other: ' + w.split(' ')[-1][:30]])[1]
        by_pkg[pkg] += ms
tot = sum(v[1] for v in by_pos.values())
print(f'compile ms after ready {tot:.0f} (position unknown {unknown:.0f})')
print('-- by package')
for k, v in by_pkg.most_common(30): print(f'{v:8.0f} ms {100*v/tot:5.1f} %  {k}')
print('-- by function')
for k, (n, ms) in sorted(by_pos.items(), key=lambda x: -x[1][1])[:None if os.environ.get('WHERE_ALL') else 60]:
    print(f'{ms:8.1f} ms {100*ms/tot:5.1f} % {n:3d}x  {k}')
