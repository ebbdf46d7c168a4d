"""Per agent of a --timeline run: ready, first answer heard once the membership existed
(`heard` lines, mDNS trace runs only), first connection and first mesh link, in ms after
ready: medians and ranges. Also the join/merge dial times (`dial ... ok/failed` lines).
python3 trace-summary.py LOG..."""
import re, statistics as st, sys
for path in sys.argv[1:]:
    ready, link, heard, conn, dials, fails, merges = {}, {}, {}, {}, [], 0, 0
    for l in open(path):
        m = re.match(r'  (\S+) \| (\d+) \| (\d+|NaN) \|', l)
        if m:
            ready[m[1]] = int(m[2])
            if m[3] != 'NaN': link[m[1]] = int(m[3])
        m = re.match(r'  (\S+) \+(\d+): (heard|connected|merge dial|(?:TRACE )?dial \S+ (?:\(\w+\) )?(ok|connected|failed))(.*)', l)
        if m:
            a, t, k = m[1], int(m[2]), m[3]
            if k == 'heard': heard.setdefault(a, t)
            elif k == 'connected': conn.setdefault(a, t)
            elif k == 'merge dial': merges += 1
            else:
                d = re.search(r'dial (\d+) ms', m[5])
                if m[4] in ('ok', 'connected'): dials.append(int(d[1]))
                else: fails += 1
    def rng(xs):
        xs = sorted(xs)
        return f'median {st.median(xs):.0f} [{xs[0]}-{xs[-1]}]' if xs else 'n/a'
    print(path)
    print('  ready (ms from spawn):', rng(list(ready.values())))
    if heard: print('  first answer heard, after ready:', rng([heard[a] - ready[a] for a in heard if a in ready]))
    print('  first mesh link, after ready:', rng([link[a] - ready[a] for a in link]))
    if dials: print(f'  dials that connected: {len(dials)}, time in dial', rng(dials), f'; failed {fails}; merge dials {merges}')
