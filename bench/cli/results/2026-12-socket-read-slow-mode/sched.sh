#!/usr/bin/env bash
# perf sched trace of bench/probes/read-slow-mode.ts (issue #17), with
# CLOCK_MONOTONIC timestamps so that the probe's chunk bounds cut it; then
# per chunk and per thread of both processes: run slices per CPU, scheduling
# delay (woken -> running), run time (schedsum.py).
#   flock /tmp/bench.lock ./sched.sh raw/sched-1     # writes raw/sched-1.probe.txt, .sum.txt
# Env as the probe's (ROUNDS, N, SIZES, PARAMS); TREE: the tree whose probe runs (default: this one).
set -euo pipefail
out=$(realpath -m "$1")
here=$(cd "$(dirname "$0")" && pwd)
tree=${TREE:-$(cd "$here/../../../.." && pwd)}
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
echo "== $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg) tree $tree" | tee "$out.probe.txt"
(cd "$tree" && perf sched record -k CLOCK_MONOTONIC -o "$data/perf.data" -- \
  npx tsx bench/probes/read-slow-mode.ts) >>"$out.probe.txt" 2>"$data/perf.err" || {
  cat "$data/perf.err"
  exit 1
}
perf sched timehist -i "$data/perf.data" >"$data/timehist.txt" 2>/dev/null
python3 "$here/schedsum.py" "$out.probe.txt" "$data/timehist.txt" >"$out.sum.txt"
gzip -c "$data/timehist.txt" >"$out.timehist.gz"
cat "$out.sum.txt"
