#!/bin/bash
# refusal-cost.ts on main (/tmp/main-before) and this branch, alternating, 3 pairs each order,
# each run its own lock hold, 300 refused dials per run.
cd "$(dirname "$0")"
M=/tmp/main-before B=/work/wt-d18refused
one() { flock /tmp/bench.lock bash -c "echo \"start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $B && timeout 120 npx tsx bench/discovery/results/2026-12-06-drefused/refusal-cost.ts $1 300"; }
for i in 1 2 3; do one $M; one $B; done
for i in 1 2 3; do one $B; one $M; done
