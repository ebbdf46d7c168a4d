#!/bin/bash
# As gap-round.sh, with the layers given (LAYERS, comma-separated; reversed for ORDER=mf)
# and the refused dials (REFUSED per agent) among the extra costs.
# Usage: SIZE=128 ORDER=fm LAYERS=... FRAMES=... CHURN=1 REFUSED=4 gap-round2.sh FLOOR_DIR MAIN_DIR LOGPREFIX
floor=$1 main=$2 pre=$3 size=${SIZE:-128}
rlayers=$(echo "$LAYERS" | tr ',' '\n' | tac | paste -sd,)
run_floor() {
  flock /tmp/bench.lock bash -c "echo \"start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $floor && timeout 280 npx tsx bench/discovery/floor/floor.ts --size $size --layers $1 --compiled --frames $FRAMES --churn ${CHURN:-1} --refused ${REFUSED:-4}; echo \"--- end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" > $pre-floor.log 2>&1
  grep -h "^start\|^run\|^---" $pre-floor.log | cut -c1-200
}
run_main() {
  BENCH_VERBOSE=1 flock /tmp/bench.lock bash -c "echo \"start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $main && timeout 280 npx tsx bench/discovery/scale.ts --sizes $size --runs 1 --compiled --limit-s 90; echo \"--- end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" > $pre-main.log 2>&1
  grep -h "^start\|^run 1\|^---" $pre-main.log | cut -c1-200
}
if [ "${ORDER:-fm}" = fm ]; then run_floor $LAYERS; run_main; else run_main; run_floor $rlayers; fi
