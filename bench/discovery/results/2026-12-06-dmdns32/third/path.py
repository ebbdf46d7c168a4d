"""Critical path of an mDNS --timeline run, per agent (ms from spawn): ready, first answer
heard once its membership existed, first join dial, first connection, first mesh link, loaded
all; medians of each step, and the agents that loaded all last.
python3 path.py LOG..."""
import re, statistics as st, sys
for path in sys.argv[1:]:
    rows, ev = {}, {}
    for l in open(path, errors='replace'):
        m = re.match(r'  (\S+) \| (\d+) \| (\d+|NaN) \| \S+ \(\+\S+\) \| (\d+)', l)
        if m:
            rows[m[1]] = dict(ready=int(m[2]), link=int(m[3]) if m[3] != 'NaN' else None, all=int(m[4]))
        m = re.match(r'  (\S+) \+(\d+): (heard|join dial|connected|dial \S+ \(link\) connected: learn \d+ ms, dial (\d+) ms)', l)
        if m:
            a, t = m[1], int(m[2])
            k = {'heard': 'heard', 'join dial': 'join', 'connected': 'conn'}.get(m[3], 'dialms')
            e = ev.setdefault(a, {})
            if k == 'dialms': e.setdefault('dials', []).append(int(m[4]))
            else: e.setdefault(k, t)
    print(path)
    steps = []
    for a, r in rows.items():
        e = ev.get(a, {})
        steps.append((a, r['ready'], e.get('heard'), e.get('join'), e.get('conn'), r['link'], r['all'], e.get('dials', [])))
    def med(i, j):
        xs = [s[j] - s[i] for s in steps if s[i] is not None and s[j] is not None]
        return f'{st.median(xs):.0f} [{min(xs)}-{max(xs)}]' if xs else 'n/a'
    print('  ready→heard', med(1, 2), '| heard→join dial', med(2, 3), '| join dial→connected', med(3, 4),
          '| connected→link', med(4, 5), '| link→loaded all', med(5, 6), '| ready→loaded all', med(1, 6))
    dials = [d for s in steps for d in s[7]]
    if dials: print(f'  link dials that connected: {len(dials)}, median {st.median(dials):.0f} ms [{min(dials)}-{max(dials)}]')
    last = max(r['ready'] for r in rows.values())
    print(f'  last ready {last}; last loaded all {max(s[6] for s in steps)}')
    for s in sorted(steps, key=lambda s: -s[6])[:6]:
        print('   ', s[0], 'ready', s[1], 'heard', s[2], 'join', s[3], 'conn', s[4], 'link', s[5], 'all', s[6])
