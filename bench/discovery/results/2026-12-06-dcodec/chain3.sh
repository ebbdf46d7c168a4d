#!/bin/bash
# A second traced 128 start each (the branch's first, tr-branch, ran at 1031 ms of imports per
# worker against 631: a slow machine; its compile wall ms are not comparable). Branch first.
B=/tmp/main-before A=/work/wt-d18codec
while kill -0 $(cat /tmp/dcodec/chain2.pid) 2>/dev/null; do sleep 5; done
for side in branch2 main2; do
  dir=$B; [ $side = branch2 ] && dir=$A
  rm -rf /tmp/dcodec/tr-$side && mkdir -p /tmp/dcodec/tr-$side/v8log
  flock /tmp/bench.lock bash -c "echo \"start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $dir && timeout 280 npx tsx bench/discovery/scale.ts --sizes 128 --runs 1 --compiled --limit-s 90 --text-dir /tmp/dcodec/tr-$side --node-args \"--trace-opt --trace-deopt --log-code --logfile=/tmp/dcodec/tr-$side/v8log/w-%p.log\"; echo \"--- end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" > tr-$side.log 2>&1
done
echo CHAIN3_DONE
