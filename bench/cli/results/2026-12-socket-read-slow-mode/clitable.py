#!/usr/bin/env python3
"""READ cells of the cli.sh runs: µs per block (Avg Lat.), Avg Post, the
three repeats' GB/s. Usage: clitable.py raw/cli-*.txt"""
import re
import sys

for f in sys.argv[1:]:
    lines = open(f).read().splitlines()
    cells = []
    for line in lines:
        m = re.match(r"^(\d+)\s+1\s+([\d.]+)\s+([\d.]+)\s+[\d.]+\s+[\d.]+\s+([\d.]+)\s.*?socket\s+[\d.]+%\s+(?:\d+\s+)?([\d.]+ [\d.]+ [\d.]+)\s", line)
        if m:
            cells.append(f"{int(m[1]) // 1024}K {m[3]} µs (post {m[4]}; {m[5]})")
    print(f"{lines[0][3:40]:38} " + " | ".join(cells))
