#!/usr/bin/env python3
"""profile.sh's summary: the warm chunks (round 5 on) split at a median of CUT
µs (fast up to CUT, slow above SLOW, default CUT; the chunks between are left out); per group, samples per transfer of the initiator's I/O thread and of the
target process's threads, and their leaf symbols' shares.
Usage: profsum.py PROBE_OUTPUT SCRIPT_TEXT CUT [SLOW]"""
import re
import sys
from collections import Counter

probe, script, cut = sys.argv[1], sys.argv[2], float(sys.argv[3])
slow = float(sys.argv[4]) if len(sys.argv) > 4 else cut
chunks = []
pid = tpid = None
engine = set()
for line in open(probe):
    m = re.match(r"# pid (\d+) target pid (\d+); engine threads ([\d,]*)", line)
    if m:
        pid, tpid, engine = int(m[1]), int(m[2]), {int(t) for t in m[3].split(",") if t}
    m = re.match(r"round (\d+) READ \d+:.*median ([\d.]+).*mono (\d+)-(\d+)", line)
    if m and int(m[1]) >= 5:
        chunks.append((float(m[2]), int(m[3]) / 1e9, int(m[4]) / 1e9))
samples = []
for line in open(script):
    m = re.match(r"\s*(\d+)/(\d+)\s+\[(\d+)\]\s+(\d+\.\d+):\s*(?:[0-9a-f]+\s+)?(\S+)?", line)
    if not m:
        continue
    p, tid, t = int(m[1]), int(m[2]), float(m[4])
    who = "init-io" if tid in engine else "target" if p == tpid else None
    if who:
        samples.append((t, who, (m[5] or "?").strip().split()[0]))
for name, group in (("fast", [c for c in chunks if c[0] <= cut]), ("slow", [c for c in chunks if c[0] > slow])):
    if not group:
        continue
    for who in ("init-io", "target"):
        c = Counter(s for t, w, s in samples if w == who and any(a <= t <= b for _, a, b in group))
        total = sum(c.values())
        per = total / (1000 * len(group))
        top = ", ".join(f"{s} {n / (1000 * len(group)):.3f}" for s, n in c.most_common(12))
        print(f"{name} ({len(group)} chunks) {who}: {per:.3f} samples per transfer (1 sample = 200 µs); top: {top}")
