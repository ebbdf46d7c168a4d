"""Islands in an mDNS --timeline run (gossip:lan lines), per agent: ready, first link, the
directory sizes seen at each connection/answer line after the first link, and when the
directory first reached half the cluster; agents whose directory stayed at <= 3 members for
over 500 ms after their first link (an island), with what connected them to the rest.
Peer ids are matched to agents by the one id each agent never hears (its own).
python3 islands.py LOG..."""
import re, statistics as st, sys
for path in sys.argv[1:]:
    rows, ev, heard = {}, {}, {}
    text = open(path, errors='replace').read()
    for l in text.splitlines():
        m = re.match(r'  (\S+) \| (\d+) \| (\d+|NaN) \| (\d+|NaN) \(\+\S+\) \| (\d+)', l)
        if m:
            rows[m[1]] = dict(ready=int(m[2]), link=int(m[3]) if m[3] != 'NaN' else None,
                              spread=int(m[4]) if m[4] != 'NaN' else None, all=int(m[5]))
            continue
        m = re.match(r'  (\S+) \+(\d+): (.*)', l)
        if not m: continue
        a, t, msg = m[1], int(m[2]), m[3]
        ev.setdefault(a, []).append((t, msg))
        h = re.match(r'heard (\S+):', msg)
        if h: heard.setdefault(a, set()).add(h[1])
    ids = set().union(*heard.values()) if heard else set()
    own = {}
    for a, hs in heard.items():
        miss = ids - hs
        if len(miss) == 1: own[next(iter(miss))] = a
    # The rest: a connection is logged at both ends within a few ms; an agent connected to a
    # known agent b at t has, as its own id, the id b logged as connected near t.
    conn = {a: [(t, re.match(r'connected (\S+)', m)[1]) for t, m in es if m.startswith('connected ')]
            for a, es in ev.items()}
    for _ in range(5):
        agent_of = {a: i for i, a in own.items()}
        for a, cs in conn.items():
            if a in agent_of: continue
            votes = {}
            for t, x in cs:
                b = own.get(x)
                if b is None: continue
                for t2, y in conn.get(b, []):
                    if abs(t2 - t) <= 150 and y not in own: votes[y] = votes.get(y, 0) + 1
            if votes:
                best = max(votes, key=votes.get)
                own[best] = a
    name = lambda i: own.get(i, i)
    n = len(rows)
    r = re.search(r'ready→all (\d+) ms', text)
    last_ready = max(x['ready'] for x in rows.values())
    print(f'{path}: ready→all {r[1] if r else "?"} ms, last ready {last_ready}, ids matched {len(own)} of {n}')
    merges = sum(1 for a in ev for t, m in ev[a] if m.startswith('merge dial'))
    print(f'  merge dials {merges}')
    half = {}
    for a, x in rows.items():
        sizes = [(t, int(mm[1])) for t, m in ev.get(a, []) for mm in [re.search(r'members (\d+)', m)] if mm]
        h = next((t for t, s in sizes if s >= n // 2), None)
        half[a] = h
        link = x['link']
        small = [(t, s) for t, s in sizes if link is not None and t >= link and s <= 3]
        if small and small[-1][0] - link > 500:
            conns = [(t, m) for t, m in ev.get(a, []) if m.startswith(('connected', 'merge dial', 'join dial'))]
            print(f'  island? {a}: ready {x["ready"]} link {link} last seen <=3 members at {small[-1][0]} '
                  f'(+{small[-1][0]-link} after link), half the cluster at {h}, loaded all {x["all"]}, all loaded it {x["spread"]}')
            for t, m in conns:
                named = re.sub(r'\b([A-Za-z0-9]{6})\b', lambda q: name(q[1]), m)
                print(f'      {t}: {named}')
    hs = [v - rows[a]['link'] for a, v in half.items() if v and rows[a]['link']]
    if hs: print(f'  link→half the cluster seen: median {st.median(hs):.0f} [{min(hs)}-{max(hs)}]')
    lk = [x['link'] - x['ready'] for x in rows.values() if x['link']]
    print(f'  ready→first link median {st.median(lk):.0f} [{min(lk)}-{max(lk)}]; first link range {min(x["link"] for x in rows.values() if x["link"])}-{max(x["link"] for x in rows.values() if x["link"])}')
    print('  last loaded all:', ', '.join(f'{a} {x["all"]} (link {x["link"]})' for a, x in sorted(rows.items(), key=lambda kv: -kv[1]['all'])[:5]))
    print('  last loaded by all:', ', '.join(f'{a} {x["spread"]} (link {x["link"]})' for a, x in sorted(rows.items(), key=lambda kv: -(kv[1]['spread'] or 1e9))[:5]))
