#!/bin/bash
# Interleaved rounds of the socket batch-1 cells with the blocking C request/response floor
# measured in the same run. Each run is its own hold of /tmp/bench.lock; the op that runs first
# alternates from round to round.
# Usage: [BLOCKS=4K,...] [EXTRA_A="--param k=v"] [EXTRA_B=...] [ORDER=ab|ba|alt] rounds.sh ROUNDS DIR [DIR2]
#   with DIR2 (may be DIR itself, with EXTRA_B): each round runs A (DIR, EXTRA_A) then B (DIR2,
#   EXTRA_B); ORDER=ba runs B first, ORDER=alt B first in even rounds.
rounds=$1 a=$2 b=${3:-}
blocks=${BLOCKS:-4K,32K,64K,512K,8M}
run() { # dir label op round
  local extra=$EXTRA_A; [ $2 = B ] && extra=$EXTRA_B
  flock /tmp/bench.lock bash -c "echo \"== $2 $3 round $4 \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $1 && node bin/nixl-ts-bench.js --op $3 --path socket --block $blocks --cells= --baselines reqresp --repeat 3 --wait poll $extra 2>&1 | grep -E '^([0-9]+ +1 |socket +(READ|WRITE))'"
}
for i in $(seq 1 "$rounds"); do
  ops="READ WRITE"; [ $((i % 2)) = 0 ] && ops="WRITE READ"
  for op in $ops; do
    if [ -z "$b" ]; then run "$a" A $op $i; else
      if [ "${ORDER:-ab}" = ba ] || { [ "${ORDER:-ab}" = alt ] && [ $((i % 2)) = 0 ]; }; then
        run "$b" B $op $i; run "$a" A $op $i
      else
        run "$a" A $op $i; run "$b" B $op $i
      fi
    fi
  done
done
