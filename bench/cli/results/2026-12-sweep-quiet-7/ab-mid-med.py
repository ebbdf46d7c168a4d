"""Medians of Avg Lat. (us) per side and cell in ab-mid.sh output, and how often merged was faster in a round."""
import statistics, sys
runs = {}  # (side, round) -> list of (op, block, us)
for path in sys.argv[1:]:
    key = None
    for line in open(path):
        if line.startswith("=="):
            w = line.split()
            key = (path, w[1], w[3])
            runs[key] = []
        elif key and line[:1].isdigit():
            f = line.split()
            runs[key].append((int(f[0]), float(f[3])))
cells = {}
for (path, side, rnd), rows in runs.items():
    for i, (block, us) in enumerate(rows):
        op = "READ" if i < len(rows) // 2 else "WRITE"
        cells.setdefault((op, block), {}).setdefault(side, {})[(path, rnd)] = us
print("| op | block | before µs (median) | merged µs (median) | merged faster in |")
print("| --- | --- | --- | --- | --- |")
for (op, block), d in sorted(cells.items()):
    b, m = d.get("before", {}), d.get("merged", {})
    both = [k for k in b if k in m]
    faster = sum(m[k] < b[k] for k in both)
    print(f"| {op} | {block // 1024} KiB | {statistics.median(b.values()):.1f} | {statistics.median(m.values()):.1f} | {faster} of {len(both)} |")
