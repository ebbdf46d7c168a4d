#!/usr/bin/env python3
"""One markdown row per scale-ab log: start (UTC, load), ready→all, CPU after ready (by thread),
verification wall ms/agent (and hits of the process-wide cache), KiB and frames sent per agent,
kill→all, spurious leaves."""
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
    g = lambda pat, s=r: re.search(pat, s).group(1)
    threads = re.search(r"by thread: main (\d+), V8/libuv helpers (\d+), .*?engines\) (\d+)", text)
    verify = re.search(r"verification wall time per agent ([\d.]+) ms", text)
    cached = re.search(r"verified already by another agent of the process per agent ([\d.]+)", text)
    table = re.search(r"^\d+ \| .*", text, re.M).group(0).split(" | ")
    frames = re.search(r"frames sent (\d+),", text)
    n = int(re.search(r"^run 1 n=(\d+)", text, re.M).group(1))
    fields = [
        g(r"ready→all (\d+)"),
        g(r"after ready (\d+)"),
        " / ".join(threads.groups()),
        verify.group(1) + (f" ({cached.group(1)})" if cached else ""),
        table[4].split(" ")[0],
        f"{int(frames.group(1)) / n:.0f}",
        g(r"kill→all (\d+)"),
        g(r"leaves (\d+)"),
    ]
    print(f"| {name} | {start.group(1)}, {start.group(2)} | " + " | ".join(fields) + " |")
