#!/bin/bash
# one addon (switch build), variants by env; traced engine run each; VARIANTS="base|BP4_LOOK=1|..."
cd /work/wt-bpoll4
cp ${ADDON:-/tmp/bp4/sw-trace.node} build/Release/nixl_native.node
IFS='|' read -ra VS <<< "${VARIANTS:-BP4_NONE=1|BP4_LOOK=1}"
for r in $(seq 1 ${ROUNDS:-2}); do
 for v in "${VS[@]}"; do
  rm -f /tmp/bp4/tr.*
  echo "== $v round $r $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg)"
  env $v BP_TRACE_OUT=/tmp/bp4/tr node bin/nixl-ts-bench.js --no-progress --op ${OP:-READ} --path socket --block ${BLOCK:-4K} --cells= --param busy_poll_us=400 --iters ${ITERS:-20000} $EXTRA 2>&1 | grep -E "^[0-9]+ "
  python3 /tmp/bp4/an.py engine /tmp/bp4/tr
 done
done
cp /tmp/bp4/main.node build/Release/nixl_native.node
