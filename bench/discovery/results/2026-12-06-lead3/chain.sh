#!/bin/bash
# The lead's runs at the end of stop 40: main at the start of the stop (a8067af, /tmp/main-before)
# against the merged tree (/work/main), both orders, then the table on the merged tree.
# Every run its own hold of /tmp/bench.lock (scale-ab.sh takes it per run).
S=../2026-12-05-dcpu2/scale-ab.sh
B=/tmp/main-before M=/work/main
SIZE=128 LIMIT_S=90 $S 1 $B $M ab1-128
SIZE=128 LIMIT_S=90 $S 1 $M $B ba1-128
SIZE=128 LIMIT_S=90 $S 1 $B $M ab2-128
SIZE=128 LIMIT_S=90 $S 1 $M $B ba2-128
SIZE=32 LIMIT_S=90 $S 1 $B $M ab-32
SIZE=32 LIMIT_S=90 $S 1 $M $B ba-32
for i in 1 2 3; do
  BENCH_VERBOSE=1 flock /tmp/bench.lock bash -c "echo \"start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $M && timeout 200 npx tsx bench/discovery/scale.ts --sizes 64 --runs 1 --compiled --limit-s 90; echo \"--- end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" > merged-64-$i.log 2>&1
  BENCH_VERBOSE=1 flock /tmp/bench.lock bash -c "echo \"start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $M && timeout 200 npx tsx bench/discovery/scale.ts --sizes 32 --source mdns --runs 1 --compiled --limit-s 90; echo \"--- end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" > merged-mdns32-$i.log 2>&1
done
flock /tmp/bench.lock bash -c "echo \"start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $M && timeout 200 npx tsx bench/discovery/floor/floor.ts --size 128 --layers stack --compiled 2>&1 | grep '^run'" > floor-end.log 2>&1
