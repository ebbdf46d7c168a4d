#!/bin/bash
# The blocking C floor alone, with and without one extra busy process (a shell loop, killed by
# its PID), interleaved (odd pairs without first, even pairs with first). Prints one line per run:
# op bytes hog mean_us p50_us. Usage: floor-hog.sh PAIRS SRC_DIR
pairs=$1 src=$2
cc -O2 -o /tmp/f17-rr "$src/bench/cli/baselines/request-response.c" || exit 1
echo "== floor-hog $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
one() { # op bytes hog
  local pid=
  if [ "$3" = 1 ]; then bash -c 'end=$((SECONDS+10)); while [ $SECONDS -lt $end ]; do :; done' & pid=$!; fi
  echo "$1 $2 $3 $(/tmp/f17-rr $1 $2 150 0 reno)"
  if [ -n "$pid" ]; then kill "$pid"; wait "$pid" 2>/dev/null; fi
}
for i in $(seq 1 "$pairs"); do
  for op in read write; do
    for bytes in 4096 32768 524288 8388608; do
      if [ $((i % 2)) = 1 ]; then one $op $bytes 0; one $op $bytes 1; else one $op $bytes 1; one $op $bytes 0; fi
    done
  done
done
echo "== end $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
