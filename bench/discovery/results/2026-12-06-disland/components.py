"""The connection graph of an mDNS --timeline run over time: from the `connected` lines (both
ends log one; ids matched to agents as islands.py does), the connected components every
250 ms from the first connection until one component holds everyone, and for each agent
outside the largest component, when it joined it and through which connection (its own dial:
join/merge/island, or one that came in). Connections are counted from when they were logged,
never removed (a shed link's agents were already joined through it).
python3 components.py LOG..."""
import re, sys
sys.path.insert(0, __import__('os').path.dirname(__file__))
def load(path):
    rows, ev, heard = {}, {}, {}
    text = open(path, errors='replace').read()
    for l in text.splitlines():
        m = re.match(r'  (\S+) \| (\d+) \| (\d+|NaN) \| (\d+|NaN) \(\+\S+\) \| (\d+)', l)
        if m:
            rows[m[1]] = dict(ready=int(m[2]), all=int(m[5])); continue
        m = re.match(r'  (\S+) \+(\d+): (.*)', l)
        if not m: continue
        ev.setdefault(m[1], []).append((int(m[2]), m[3]))
        h = re.match(r'heard (\S+):', m[3])
        if h: heard.setdefault(m[1], set()).add(h[1])
    ids = set().union(*heard.values()) if heard else set()
    own = {}
    for a, hs in heard.items():
        miss = ids - hs
        if len(miss) == 1: own[next(iter(miss))] = a
    conn = {a: [(t, re.match(r'connected (\S+)', m)[1]) for t, m in es if m.startswith('connected ')] for a, es in ev.items()}
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
            if votes: own[max(votes, key=votes.get)] = a
    return text, rows, ev, conn, own
for path in sys.argv[1:]:
    text, rows, ev, conn, own = load(path)
    edges = sorted((t, a, own[x]) for a, cs in conn.items() for t, x in cs if x in own)
    dials = {}
    for a, es in ev.items():
        for t, m in es:
            d = re.match(r'(join|merge|island)[: ].*', m)
            mm = re.match(r'(join dial|merge dial) (\S+)', m)
            if mm: dials[(a, own.get(mm[2], mm[2]))] = (mm[1], t)
    isl = {}
    for a, es in ev.items():
        for i, (t, m) in enumerate(es):
            if m.startswith('island:'):
                nxt = es[i + 1][1] if i + 1 < len(es) else ''
                mm = re.match(r'merge dial (\S+)', nxt)
                if mm: isl[(a, own.get(mm[1], mm[1]))] = t
    r = re.search(r'ready→all (\d+) ms', text)
    print(f'{path}: ready→all {r[1] if r else "?"} ms; {len(own)} of {len(rows)} ids matched; last ready {max(x["ready"] for x in rows.values())}')
    parent = {a: a for a in rows}
    def find(a):
        while parent[a] != a: parent[a] = parent[parent[a]]; a = parent[a]
        return a
    t0 = edges[0][0] if edges else 0
    joined_big = {}
    k = 0; t = t0
    while True:
        while k < len(edges) and edges[k][0] <= t:
            _, a, b = edges[k]; k += 1
            if a in parent and b in parent: parent[find(a)] = find(b)
        comps = {}
        for a in rows: comps.setdefault(find(a), []).append(a)
        sizes = sorted((len(v) for v in comps.values()), reverse=True)
        big = max(comps.values(), key=len)
        print(f'  {t}: components {len(sizes)}: {sizes}')
        if len(sizes) == 1 or k >= len(edges): break
        t += 250
    # Who joined the largest component last, and how: replay edges, track the final component's growth.
    parent = {a: a for a in rows}
    size = {a: 1 for a in rows}
    merges = []
    for t, a, b in edges:
        if a not in parent or b not in parent: continue
        ra, rb = find(a), find(b)
        if ra == rb: continue
        small, large = (ra, rb) if size[ra] < size[rb] else (rb, ra)
        if size[large] >= len(rows) // 2 and size[small] <= len(rows) // 2:
            how = dials.get((a, b)) or dials.get((b, a))
            howi = 'island dial' if ((a, b) in isl or (b, a) in isl) else None
            merges.append((t, size[small], a, b, howi or (how[0] if how else 'other (membership link dial or relay)')))
        parent[small] = large; size[large] += size[small]
    for t, n, a, b, how in merges:
        print(f'    {t}: a part of {n} joined the largest through {a}–{b} ({how})')
