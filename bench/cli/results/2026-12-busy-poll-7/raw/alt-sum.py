#!/usr/bin/env python3
"""Summary of alt*.sh outputs: per cell and variant (probe / control), the runs' medians of
the per-class median difference (odd - even, us), their range, and the even class's median Tx.
Usage: alt-sum.py FILE..."""
import re, statistics as st, sys
from collections import defaultdict

d = defaultdict(list)
for f in sys.argv[1:]:
    head = None
    for line in open(f):
        m = re.match(r'== (\w+) round \d+ (\S+) ', line)
        if m:
            head = (m.group(2), m.group(1))
            continue
        m = re.search(r'even[^|]* n \d+ med ([\d.]+) .*odd-even med ([+-][\d.]+) p25 ([+-][\d.]+)', line)
        if m and head:
            d[head].append((float(m.group(1)), float(m.group(2)), float(m.group(3))))
print('cell        variant  runs  even-class med Tx (us)  odd-even: median [min, max] (us)')
for (cell, v), xs in sorted(d.items()):
    diffs = [x[1] for x in xs]
    print('%-11s %-7s %4d  %-22s  %+.2f [%+.2f, %+.2f]' % (cell, v, len(xs), ' '.join('%.1f' % x[0] for x in xs), st.median(diffs), min(diffs), max(diffs)))
