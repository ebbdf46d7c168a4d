#!/usr/bin/env python3
"""Join herd of an mDNS --timeline log: which peers each agent's join dials went to.
Main: an answer heard with links+dials < 2 (and not connected) is dialed at once;
the branch logs each 'join dial X'. Prints how many joiners dialed each target, and
the join dials' outcomes (the 'dial X (link) ...' line that follows for the same X)."""
import re, sys, collections
for path in sys.argv[1:]:
    targets = collections.Counter()
    joins = {}  # (agent, target) -> True
    outcome = collections.Counter()
    is_branch = 'join dial' in open(path, errors='replace').read()
    for line in open(path, errors='replace'):
        m = re.match(r'\s+(\S+) \+(\d+): (.*)', line)
        if not m:
            continue
        agent, t, rest = m.group(1), int(m.group(2)), m.group(3)
        h = re.match(r'heard (\S+): links (\d+), dials (\d+), members \d+, known \S+, connected false', rest)
        if h and int(h.group(2)) + int(h.group(3)) < 2 and not is_branch:
            key = (agent, h.group(1))
            if key not in joins:
                joins[key] = 'open'; targets[h.group(1)] += 1
        j = re.match(r'join dial (\S+)', rest)
        if j:
            key = (agent, j.group(1))
            if key not in joins:
                joins[key] = 'open'; targets[j.group(1)] += 1
        d = re.match(r'dial (\S+) \(link\) (connected|failed \((.{0,30}))', rest)
        if d and joins.get((agent, d.group(1))) == 'open':
            joins[(agent, d.group(1))] = 'done'
            what = 'connected' if d.group(2) == 'connected' else ('refused by own bound' if 'refused' in (d.group(3) or '') else 'reset/failed')
            outcome[what] += 1
    print(path)
    top = targets.most_common()
    print(f'  join dials {sum(targets.values())} to {len(targets)} peers; most per peer: {[c for _, c in top[:6]]}')
    print(f'  outcomes: {dict(outcome)}')


