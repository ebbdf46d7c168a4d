#!/usr/bin/env python3
"""Per log: load at start/end, ready->all, CPU after ready, first mesh link after ready
(p50/p90/max over agents, from the timeline), seed dials reset at accept, referred."""
import re, sys, statistics

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float('nan')

for path in sys.argv[1:]:
    text = open(path).read()
    start = re.search(r'^start (\S+) (\S+)', text, re.M)
    end = re.search(r'^end (\S+) (\S+)', text, re.M)
    run = re.search(r'ready→all (\d+) ms.*?CPU ms/agent \d+ \(after ready (\d+)', text)
    late = [int(m.group(2)) - int(m.group(1))
            for m in re.finditer(r'^  (?:a\d+|victim) \| (\d+) \| (\d+) \|', text, re.M)]
    resets = len(re.findall(r'not reachable .*ECONNRESET', text))
    referred = re.search(r'newcomers referred at the bound (\d+)', text)
    shed = re.search(r'links shed as extra (\d+)', text)
    print(f"{path}: start {start.group(1) if start else '?'} load {start.group(2) if start else '?'}"
          f" end load {end.group(2) if end else '?'} | ready→all {run.group(1) if run else 'none'} ms"
          f" | CPU after ready {run.group(2) if run else '-'} | first link after ready p50/p90/max"
          f" {pct(late, .5)}/{pct(late, .9)}/{max(late) if late else '-'} ms | seed resets {resets}"
          f" | referred {referred.group(1) if referred else '-'} | shed {shed.group(1) if shed else '-'}")
