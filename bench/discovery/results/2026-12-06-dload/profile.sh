#!/bin/bash
# Profiles of the micro-benchmark under the lock (PRELOAD=127 ROUNDS=10):
# V8 CPU profile of the after tree; perf record -g of before and after.
# Only its first step (the V8 profile) gave output: the perf steps quoted $(basename) wrongly. perf record was run by hand instead (README).
rm -rf /tmp/dload-prof; mkdir -p /tmp/dload-prof
flock /tmp/bench.lock bash -c "
echo \"start $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)\"
cd /work/wt-d18load && PRELOAD=127 ROUNDS=10 timeout 300 node --cpu-prof --cpu-prof-dir=/tmp/dload-prof --cpu-prof-interval 100 --import tsx bench/micro/load-md.ts
for t in /tmp/wt-d18load-before /work/wt-d18load; do
  echo \"perf $t $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)\"
  cd $t && PRELOAD=127 ROUNDS=10 timeout 300 perf record -F 2999 -g -o /tmp/dload-perf-$(basename $t).data node --perf-basic-prof --import tsx bench/micro/load-md.ts
done
echo \"--- end $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)\"
"
