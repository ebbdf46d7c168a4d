"""Each cell of a nixl-ts-bench table (poll.txt) beside NIXL's figure for the same
cell in ../shared/reference/nixl-side-by-side-2026-12.md, as a markdown table.

    python3 ratios.py poll.txt ../../../../../shared/reference/nixl-side-by-side-2026-12.md
"""
import re
import sys

bench, reference = sys.argv[1], sys.argv[2]

# NIXL figures by (path, op, block, batch); the section heading names the path.
nixl = {}
section = None
for line in open(reference):
    if line.startswith("## "):
        section = "shm" if "same-host" in line else "socket"
    m = re.match(r"\| (READ|WRITE) \| (\d+) \| (\d+) \| [\d.]+ \| [\d.]+ \| ([\d.]+) \|", line)
    if m and section:
        # The batch section repeats batch 1 from another run: the path's own table wins.
        nixl.setdefault((section, m[1], int(m[2]), int(m[3])), float(m[4]))

# nixl-ts figures: a table heading names the op and the path, then one row per cell.
rows = []
op = path = None
for line in open(bench):
    m = re.match(r"TCP (READ|WRITE), (socket path|shared memory)", line)
    if m:
        op, path = m[1], "socket" if m[2] == "socket path" else "shm"
        continue
    m = re.match(r"(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s", line)
    if m and op:
        block, batch, gbs, us = int(m[1]), int(m[2]), float(m[3]), float(m[4])
        ref = nixl.get((path, op, block, batch))
        if ref is None and path == "shm" and batch > 1:
            ref = nixl.get(("socket", op, block, batch))  # NIXL's batch table was measured over tcp
        rows.append((path, op, block, batch, gbs, us, ref))

def size(b):
    return f"{b >> 20} MiB" if b >= 1 << 20 else f"{b >> 10} KiB"

print("| path | op | block | batch | nixl-ts GB/s | µs | NIXL GB/s | ratio |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
below = 0
for path, op, block, batch, gbs, us, ref in rows:
    ratio = gbs / ref if ref else None
    if ratio is not None and ratio < 1:
        below += 1
    shown = "-" if ratio is None else (f"**{ratio:.2f}**" if ratio < 1 else f"{ratio:.2f}")
    print(f"| {path} | {op} | {size(block)} | {batch} | {gbs} | {us} | {ref or '-'} | {shown} |")
print(f"\n{below} of {sum(1 for r in rows if r[6])} cells below NIXL")
