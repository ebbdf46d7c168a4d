#!/usr/bin/env bash
# Where the I/O threads' time goes, slow chunks against fast ones: perf record
# (cpu-clock, 4999 Hz, all CPUs, CLOCK_MONOTONIC) around the probe; per chunk,
# the samples of the initiator's I/O thread and of the target process by
# their leaf symbol (profsum.py: fast chunks up to a median of FAST µs, slow
# ones above SLOW).
#   ROUNDS=40 GAP_MS=100 SIZES=65536 flock /tmp/bench.lock ./profile.sh raw/profile-4 39 44
set -euo pipefail
out=$(realpath -m "$1")
here=$(cd "$(dirname "$0")" && pwd)
tree=${TREE:-$(cd "$here/../../../.." && pwd)}
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
echo "== $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg) tree $tree" | tee "$out.probe.txt"
(cd "$tree" && perf record -a -F 4999 -e cpu-clock -k CLOCK_MONOTONIC -o "$data/perf.data" -- \
  npx tsx bench/probes/read-slow-mode.ts) >>"$out.probe.txt" 2>"$data/perf.err" || {
  cat "$data/perf.err"
  exit 1
}
perf script -i "$data/perf.data" -F pid,tid,cpu,time,ip,sym >"$data/script.txt" 2>/dev/null
gzip -c "$data/script.txt" >"$out.script.gz" # (not committed: 0.8 MB a run)
python3 "$here/profsum.py" "$out.probe.txt" "$data/script.txt" "$2" "${3:-$2}" >"$out.sum.txt"
cat "$out.sum.txt"
