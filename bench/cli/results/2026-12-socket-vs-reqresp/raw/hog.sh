#!/bin/bash
# One lock hold, interleaved: A (DIR, EXTRA_A, a hog when HOG_A=1) and B (DIR, EXTRA_B, a hog
# unless HOG_B=0); odd rounds A then B, even rounds B then A. The hog is one extra busy
# process (a shell loop bounded to 30 s, started here and killed by its PID after the run).
# Usage: [OP=READ] [BLOCKS=4K,512K] [HOG_A=0] [HOG_B=1] [EXTRA_A=..] [EXTRA_B=..] hog.sh ROUNDS DIR
# (hog-1.txt: A = no hog, B = hog, no params.)
rounds=$1 dir=$2 op=${OP:-READ}
one() { # label round
  local extra=$EXTRA_A hog=${HOG_A:-0} pid=
  [ "$1" = B ] && extra=$EXTRA_B hog=${HOG_B:-1}
  if [ "$hog" = 1 ]; then
    bash -c 'end=$((SECONDS+30)); while [ $SECONDS -lt $end ]; do :; done' &
    pid=$!
  fi
  echo "== $1 $op round $2 $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg) hog $hog $extra"
  (cd "$dir" && node bin/nixl-ts-bench.js --op $op --path socket --block ${BLOCKS:-4K,512K} --cells= --baselines reqresp --repeat 3 --wait poll $extra 2>&1 | grep -E '^([0-9]+ +1 |socket +(READ|WRITE))')
  if [ -n "$pid" ]; then kill "$pid"; wait "$pid" 2>/dev/null; fi
}
for i in $(seq 1 "$rounds"); do
  if [ $((i % 2)) = 1 ]; then one A "$i"; one B "$i"; else one B "$i"; one A "$i"; fi
done
