#!/bin/bash
# System calls per transfer, both processes, the whole run (perf stat tracepoints):
# main's addon (A) and this branch's (B), swapped in place, A B A B, for BLOCK.
cd "$(git rev-parse --show-toplevel)"
OLD=${OLD:-/tmp/bp3/main.node}; NEW=${NEW:-/tmp/bp3/new.node}
for r in 1 2; do
  for V in A B; do
    F=$OLD; [ $V = B ] && F=$NEW
    cp "$F" build/Release/nixl_native.node
    echo "== $V round $r $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) block ${BLOCK:-64K}"
    perf stat -x, -e 'syscalls:sys_enter_recvfrom,syscalls:sys_enter_recvmsg,syscalls:sys_enter_sendmsg,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_sched_yield' -- \
      node bin/nixl-ts-bench.js --no-progress --cells= --op READ --path socket --block ${BLOCK:-64K} \
      --param busy_poll_us=400 --iters 20000 --warmup-ms 0 2>&1 | grep -E "syscalls|^[0-9]+ "
  done
done
cp "$NEW" build/Release/nixl_native.node
