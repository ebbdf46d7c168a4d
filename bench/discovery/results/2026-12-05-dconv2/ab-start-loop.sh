#!/bin/bash
# Interleaved starts, before (main's code at f2bc906, /tmp/dconv2-before) and after (this
# branch): N pairs of scale-bench runs at SIZE agents cut at LIMIT s, while BUSY bounded busy
# loops compete for the 2 cores. A worker silent from the start gets the silent-worker dump.
#   flock /tmp/bench.lock bash ab-start-loop.sh SIZE N PREFIX [BUSY] [LIMIT]
SIZE=$1; N=$2; PREFIX=$(realpath -m "$3"); BUSY=${4:-3}; LIMIT=${5:-15}
pids=()
for i in $(seq 1 "$BUSY"); do timeout 360 sh -c 'while :; do :; done' & pids+=($!); done
for i in $(seq 1 "$N"); do
  for v in before after; do
    dir=/work/wt-dconv; [ $v = before ] && dir=/tmp/dconv2-before
    log=$PREFIX-$v-$i.log
    {
      echo "start $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg) busy $BUSY dir $dir limit $LIMIT"
      cd "$dir" && BENCH_VERBOSE=1 timeout 120 npx tsx bench/discovery/scale.ts --sizes "$SIZE" --runs 1 --compiled --limit-s "$LIMIT"
      echo "--- end $(date -u +%T) rc $? load $(cut -d' ' -f1-3 /proc/loadavg)"
    } > "$log" 2>&1
    echo "$(basename "$log"): $(grep -c ' ms: ' "$log") progress lines, $(grep -c 'silent:' "$log") silent"
  done
done
for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
wait 2>/dev/null
