# Medians of Avg Lat. (µs) per variant and op in raw/ab3-*.txt, with each run's value.
import re, statistics, sys
for path in sys.argv[1:]:
    runs = {}
    v = op = None
    for line in open(path):
        if line.startswith("== "):
            v = line.split()[1]
        elif line.startswith("TCP "):
            op = line.split()[1].rstrip(",")
        elif line.startswith("4096 "):
            runs.setdefault((op, v), []).append(float(line.split()[3]))
    print(path)
    for (op, v), xs in sorted(runs.items()):
        print(f"  {op:5} {v}: median {statistics.median(xs):5.1f} µs  runs {xs}")
