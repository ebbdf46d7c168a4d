import re, sys, statistics
from collections import defaultdict
runs = defaultdict(lambda: defaultdict(int)); delay = defaultdict(list); rt = defaultdict(float); comm = {}
for line in open(sys.argv[1]):
    m = re.match(r'\s*([\d.]+)\s+\[(\d+)\]\s+(\S.*?)\[(\d+)/(\d+)\]\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)', line)
    if not m: continue
    cpu, name, tid, pid = int(m[2]), m[3].strip(), m[4], m[5]
    if name != 'node': continue
    runs[tid][cpu] += 1; delay[tid].append(float(m[7]) * 1000); rt[tid] += float(m[8]); comm[tid] = pid
busy = sorted(rt, key=lambda t: -sum(runs[t].values()))[:3]
for t in busy:
    print(f'  tid {t} (pid {comm[t]}{", main" if t == comm[t] else ""}): runs per CPU {dict(runs[t])}, sched delay median {statistics.median(delay[t]):.1f} µs, run time {rt[t]:.0f} ms')
