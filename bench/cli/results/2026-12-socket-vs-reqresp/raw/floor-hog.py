"""Medians of floor-hog.sh output: the blocking C floor's mean µs without and with the hog, and in how many pairs the hog run was faster."""
import collections, json, statistics, sys
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    if line.startswith("=="):
        print(line.strip())
        continue
    op, b, hog, js = line.split(" ", 3)
    d[(op, int(b), hog)].append(json.loads(js)["mean"])
print("| op | block | floor µs, no hog | floor µs, hog | hog faster in pairs |")
print("| --- | --- | --- | --- | --- |")
for op, b in sorted({(k[0], k[1]) for k in d}):
    a, h = d[(op, b, "0")], d[(op, b, "1")]
    print(f"| {op} | {b // 1024} KiB | {statistics.median(a):.1f} | {statistics.median(h):.1f} | {sum(x < y for x, y in zip(h, a))} of {len(a)} |")
