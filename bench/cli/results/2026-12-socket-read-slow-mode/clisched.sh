#!/usr/bin/env bash
# perf sched trace of the issue's CLI command (READ 16-128 KiB, --repeat 3,
# --baseline), cut into the repeats of its cells at the baseline programs that
# run between them (clisum.py): per repeat, the CPU time of each thread of the
# bench process (its main thread, the TCP engine's I/O thread, V8's threads).
#   flock /tmp/bench.lock ./clisched.sh raw/clisched-1   # .bench.txt, .sum.txt, .timehist.gz
# EXTRA: more bench flags; NODEFLAGS: node's own flags (e.g. --single-threaded).
set -euo pipefail
out=$(realpath -m "$1")
here=$(cd "$(dirname "$0")" && pwd)
tree=${TREE:-$(cd "$here/../../../.." && pwd)}
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
echo "== $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg) tree $tree node flags ${NODEFLAGS:-}" | tee "$out.bench.txt"
(cd "$tree" && perf sched record -k CLOCK_MONOTONIC -o "$data/perf.data" -- \
  node ${NODEFLAGS:-} bin/nixl-ts-bench.js --op READ --path socket --block 16K,32K,64K,128K \
  --baseline --repeat 3 --wait poll --no-progress ${EXTRA:-} --out "$data/out") >>"$out.bench.txt" 2>"$data/perf.err" || {
  cat "$data/perf.err"
  exit 1
}
perf sched timehist -i "$data/perf.data" >"$data/timehist.txt" 2>/dev/null
gzip -c "$data/timehist.txt" >"$out.timehist.gz"
python3 "$here/clisum.py" "$data/timehist.txt" >"$out.sum.txt"
grep -E '^(16384|32768|65536|131072) ' "$out.bench.txt" | head -4
cat "$out.sum.txt"
