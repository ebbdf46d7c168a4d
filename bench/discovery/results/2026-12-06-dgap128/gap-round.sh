#!/bin/bash
# One round of the decomposition at SIZE agents: the floor with main's extra costs added one
# at a time (floor.ts in FLOOR_DIR, one lock hold for its four layers) and main's scale.ts
# (MAIN_DIR, its own lock hold). ORDER=fm: floor layers then main; ORDER=mf: main then the
# floor layers reversed. FRAMES: the extra frames' mix (COUNTxBYTES,...), CHURN: extra dials.
# Usage: SIZE=128 ORDER=fm FRAMES=... CHURN=1 gap-round.sh FLOOR_DIR MAIN_DIR LOGPREFIX
floor=$1 main=$2 pre=$3 size=${SIZE:-128}
layers=stack-load,stack-load+frames,stack-load+churn,stack-load+frames+churn
rlayers=stack-load+frames+churn,stack-load+churn,stack-load+frames,stack-load
run_floor() {
  flock /tmp/bench.lock bash -c "echo \"start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $floor && timeout 280 npx tsx bench/discovery/floor/floor.ts --size $size --layers $1 --compiled --frames $FRAMES --churn ${CHURN:-1}; echo \"--- end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" > $pre-floor.log 2>&1
  grep -h "^start\|^run\|^---" $pre-floor.log | cut -c1-200
}
run_main() {
  BENCH_VERBOSE=1 flock /tmp/bench.lock bash -c "echo \"start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $main && timeout 280 npx tsx bench/discovery/scale.ts --sizes $size --runs 1 --compiled --limit-s 90; echo \"--- end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" > $pre-main.log 2>&1
  grep -h "^start\|^run 1\|^---" $pre-main.log | cut -c1-200
}
if [ "${ORDER:-fm}" = fm ]; then run_floor $layers; run_main; else run_main; run_floor $rlayers; fi
