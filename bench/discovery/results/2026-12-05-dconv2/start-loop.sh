#!/bin/bash
# The start only, many times: N scale-bench runs at SIZE agents cut at LIMIT s (a normal run
# is still converging then; a worker silent from the start gets the silent-worker dump), while
# BUSY bounded busy loops compete for the 2 cores. Under the shared lock:
#   flock /tmp/bench.lock bash start-loop.sh SIZE N PREFIX [BUSY] [LIMIT] [DIR]
SIZE=$1; N=$2; PREFIX=$(realpath -m "$3"); BUSY=${4:-3}; LIMIT=${5:-15}; DIR=${6:-/work/wt-dconv}
pids=()
for i in $(seq 1 "$BUSY"); do timeout 300 sh -c 'while :; do :; done' & pids+=($!); done
cd "$DIR" || exit 1
for i in $(seq 1 "$N"); do
  log=$PREFIX-$i.log
  {
    echo "start $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg) busy $BUSY dir $DIR limit $LIMIT"
    BENCH_VERBOSE=1 timeout 120 npx tsx bench/discovery/scale.ts --sizes "$SIZE" --runs 1 --compiled --limit-s "$LIMIT"
    echo "--- end $(date -u +%T) rc $? load $(cut -d' ' -f1-3 /proc/loadavg)"
  } > "$log" 2>&1
  echo "$(basename "$log"): $(grep -c ' ms: ' "$log") progress lines, $(grep -c 'silent' "$log") silent"
done
for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
wait 2>/dev/null
