"""Per cell: our µs, the floor's µs and the ratio in each run of rounds.sh; medians and spread per side."""
import statistics, sys
runs = []  # (side, op, round, time, load, {block: (us, floor_us, ratio)})
first = {}  # (op, round) -> the side that ran first in that round
for path in sys.argv[1:]:
    cur = None
    for line in open(path):
        w = line.split()
        if line.startswith("=="):
            cur = dict(side=w[1], op=w[2], rnd=int(w[4]), t=w[5], load=w[7], ours={}, floor={})
            runs.append(cur)
            first.setdefault((path, cur["op"], cur["rnd"]), cur["side"])
        elif cur and line[:1].isdigit():
            cur["ours"][int(w[0])] = float(w[3])
        elif cur and w[:1] == ["socket"]:
            blk = w[2]
            mult = {"K": 1024, "M": 1 << 20}[blk[-1]]
            b = int(blk[:-1]) * mult
            cur["floor"][b] = b / float(w[4]) / 1e3
cells = {}
print("| side | op | round | UTC | load | block | ours µs | floor µs | ratio |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for r in runs:
    for b, us in sorted(r["ours"].items()):
        f = r["floor"].get(b)
        if f is None: continue
        ratio = f / us
        cells.setdefault((r["op"], b, r["side"]), []).append((r["rnd"], us, f, ratio))
        print(f"| {r['side']} | {r['op']} | {r['rnd']} | {r['t']} | {r['load']} | {b//1024} KiB | {us:.1f} | {f:.1f} | {ratio:.2f} |")
print()
print("| op | block | side | runs | ours µs median | floor µs median | ratio median | ratio min–max | runs ≥ 0.9× |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for (op, b, side), v in sorted(cells.items()):
    rs = [x[3] for x in v]
    print(f"| {op} | {b//1024} KiB | {side} | {len(v)} | {statistics.median(x[1] for x in v):.1f} | {statistics.median(x[2] for x in v):.1f} | {statistics.median(rs):.2f} | {min(rs):.2f}–{max(rs):.2f} | {sum(x >= 0.9 for x in rs)} |")
sides = sorted({k[2] for k in cells})
if len(sides) == 2:
    print()
    print("| op | block | A ratio median | B ratio median | B faster (µs) in rounds | A first: A / B µs medians, B faster | B first: A / B µs medians, B faster |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for (op, b) in sorted({(k[0], k[1]) for k in cells}):
        A = {x[0]: x for x in cells.get((op, b, "A"), [])}
        B = {x[0]: x for x in cells.get((op, b, "B"), [])}
        both = [k for k in A if k in B]
        won = sum(B[k][1] < A[k][1] for k in both)
        order = {}
        for k in both:
            f = [v for (pth, o, r), v in first.items() if o == op and r == k][0]
            order.setdefault(f, []).append(k)
        def part(side):
            ks = order.get(side, [])
            if not ks: return "–"
            return f"{statistics.median(A[k][1] for k in ks):.1f} / {statistics.median(B[k][1] for k in ks):.1f}, {sum(B[k][1] < A[k][1] for k in ks)} of {len(ks)}"
        print(f"| {op} | {b//1024} KiB | {statistics.median(x[3] for x in A.values()):.2f} | {statistics.median(x[3] for x in B.values()):.2f} | {won} of {len(both)} | {part('A')} | {part('B')} |")
