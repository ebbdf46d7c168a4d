#!/usr/bin/env bash
# Page allocations (kmem:mm_page_alloc, by order) of the probe's two processes
# per chunk of bench/probes/read-slow-mode.ts: do slow chunks allocate the
# socket buffers' pages differently? CLOCK_MONOTONIC, cut by the probe's bounds.
#   flock /tmp/bench.lock ./pagealloc.sh raw/pagealloc-1   # .probe.txt, .sum.txt
set -euo pipefail
out=$(realpath -m "$1")
here=$(cd "$(dirname "$0")" && pwd)
tree=${TREE:-$(cd "$here/../../../.." && pwd)}
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
echo "== $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg) tree $tree" | tee "$out.probe.txt"
(cd "$tree" && perf record -a -k CLOCK_MONOTONIC -e kmem:mm_page_alloc -o "$data/perf.data" -- \
  npx tsx bench/probes/read-slow-mode.ts) >>"$out.probe.txt" 2>"$data/perf.err" || {
  cat "$data/perf.err"
  exit 1
}
perf script -i "$data/perf.data" -F pid,tid,time,trace >"$data/script.txt" 2>/dev/null
python3 - "$out.probe.txt" "$data/script.txt" >"$out.sum.txt" <<'PY'
import re, sys
from collections import Counter
chunks = []; pids = set()
for line in open(sys.argv[1]):
    m = re.match(r"# pid (\d+) target pid (\d+)", line)
    if m: pids = {int(m[1]), int(m[2])}
    m = re.match(r"(round \d+ READ \d+: [\d.]+ µs/transfer \(median [\d.]+).*mono (\d+)-(\d+)", line)
    if m: chunks.append((m[1], int(m[2]) / 1e9, int(m[3]) / 1e9))
ev = []
for line in open(sys.argv[2]):
    m = re.match(r"\s*(\d+)/(\d+)\s+(\d+\.\d+):.*pfn=(?:0x)?([0-9a-f]+).*order=(\d+)", line)
    if m and int(m[1]) in pids: ev.append((float(m[3]), int(m[5]), m[4]))
for name, a, b in chunks:
    c = Counter(o for t, o, _ in ev if a <= t <= b)
    pf = Counter(p for t, o, p in ev if a <= t <= b and o == 3)
    top = sum(n for _, n in pf.most_common(4))
    print(f"{name}): page allocations by order " + ", ".join(f"{o}: {n}" for o, n in sorted(c.items()))
          + f"; order 3: {len(pf)} distinct pages, the 4 most used {top} times: " + " ".join(p for p, _ in pf.most_common(4)))
PY
cat "$out.sum.txt"
