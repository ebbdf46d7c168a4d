#!/bin/bash
# traced engine run + traced C floor, N times; analysis per run
cd /work/wt-bpoll4
for r in $(seq 1 ${N:-2}); do
  rm -f /tmp/bp4/tr.* /tmp/bp4/c.*
  cp ${ADDON:-/tmp/bp4/trace.node} build/Release/nixl_native.node
  echo "== engine run $r $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg)"
  BP_TRACE_OUT=/tmp/bp4/tr node bin/nixl-ts-bench.js --no-progress --op ${OP:-READ} --path socket --block ${BLOCK:-4K} --cells= --param busy_poll_us=400 --iters 20000 $EXTRA 2>&1 | grep -E "^[0-9]+ "
  python3 /tmp/bp4/an.py engine /tmp/bp4/tr
  echo "== C floor $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg)"
  /tmp/bp4/rr_trace ${COP:-read} ${CSIZE:-4096} 300 1
  python3 /tmp/bp4/an.py c
done
cp /tmp/bp4/main.node build/Release/nixl_native.node
