#!/usr/bin/env python3
"""Medians of the probes' JSON lines in a probe-rounds.sh output, per variant."""
import json, statistics, sys
from collections import defaultdict

rows = defaultdict(list)
for line in open(sys.argv[1]):
    if not line.startswith('{'):
        continue
    d = json.loads(line)
    key = ' '.join(f'{k}={d[k]}' for k in d if k not in (
        'loop', 'mean', 'p10', 'p50', 'p90', 'gbps', 'n', 'size'))
    rows[(d['size'], key)].append(d)
for (size, key), ds in rows.items():
    p50 = [d['p50'] for d in ds]
    loop = [d.get('loop', d['mean']) for d in ds]
    print(f"{size} {key}: p50 median {statistics.median(p50):.1f} us "
          f"(runs {' / '.join(f'{x:.1f}' for x in p50)}); loop median "
          f"{statistics.median(loop):.1f} us (runs {' / '.join(f'{x:.0f}' for x in loop)})")
