#!/usr/bin/env python3
"""One markdown row per scale-ab(-idle) log: start (UTC, load), ready→all, CPU after ready, idle CPU, kill→all, leaves."""
import re, sys

for path in sys.argv[1:]:
    text = open(path).read()
    start = re.search(r"^start (\S+) load (\S+)", text, re.M)
    run = re.search(r"^run 1 n=\d+: .*", text, re.M)
    name = path.rsplit("/", 1)[-1].removesuffix(".log")
    if not run:
        print(f"| {name} | {start.group(1)}, {start.group(2)} | no result |")
        continue
    r = run.group(0)
    g = lambda pat: re.search(pat, r).group(1)
    fields = [
        g(p)
        for p in (
            r"ready→all (\d+)",
            r"after ready (\d+)",
            r"idle CPU µs/agent/s (\d+)",
            r"main threads (\d+)",
            r"kill→all (\d+)",
            r"leaves (\d+)",
        )
    ]
    print(f"| {name} | {start.group(1)}, {start.group(2)} | " + " | ".join(fields) + " |")
