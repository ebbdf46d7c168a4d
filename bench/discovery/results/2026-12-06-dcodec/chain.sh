#!/bin/bash
# This branch's measurements, in order; every timed or traced run holds /tmp/bench.lock on its own.
# B = main a8540b2 (/tmp/main-before), A = the branch (/work/wt-d18codec, dist rebuilt).
# Run from this folder.
S=/work/wt-d18codec/bench/discovery/results/2026-12-05-dcpu2/scale-ab.sh
B=/tmp/main-before A=/work/wt-d18codec
P=/work/wt-d18codec/dist/bench/probes/mesh-codec.js
# (a) the codec probe, alternating, 5 pairs each order.
for k in 1 2 3 4 5; do
  for t in $B $A $A $B; do
    flock /tmp/bench.lock bash -c "echo \"\$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg) \$(node $P $t)\"" >> probe.log
  done
done
# (b) one traced 128 start each (V8 trace lines and a code log per worker).
for side in main branch; do
  dir=$B; [ $side = branch ] && dir=$A
  rm -rf /tmp/dcodec/tr-$side && mkdir -p /tmp/dcodec/tr-$side/v8log
  flock /tmp/bench.lock bash -c "echo \"start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $dir && timeout 280 npx tsx bench/discovery/scale.ts --sizes 128 --runs 1 --compiled --limit-s 90 --text-dir /tmp/dcodec/tr-$side --node-args \"--trace-opt --trace-deopt --log-code --logfile=/tmp/dcodec/tr-$side/v8log/w-%p.log\"; echo \"--- end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" > tr-$side.log 2>&1
done
# (c) 128 seeds, 3 pairs in each order (interleaved), then 32 seeds once each way.
for k in 1 2 3; do
  SIZE=128 LIMIT_S=90 $S 1 $B $A p128ab$k
  SIZE=128 LIMIT_S=90 $S 1 $A $B p128ba$k
done
SIZE=32 LIMIT_S=90 $S 1 $B $A s32ab1
SIZE=32 LIMIT_S=90 $S 1 $A $B s32ba1
echo CHAIN_DONE
