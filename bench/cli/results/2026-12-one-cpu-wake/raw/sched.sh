#!/bin/bash
# Scheduler events plus send/recv/epoll/yield syscall entries on CPU 0: ours (default
# params, READ 4K, 2000 iters) and the C blocking request/response floor, both pinned with
# taskset -c 0. Run under flock. PARAMS: extra bench args (e.g. --param poll_progress=on),
# TAG: suffix of the recording's name. Analysed by sched-an.py.
cd "$(git rev-parse --show-toplevel)"
D=${D:-/tmp/wake}; mkdir -p $D
EV="-e sched:sched_switch -e sched:sched_wakeup -e sched:sched_waking -e syscalls:sys_enter_sendmsg -e syscalls:sys_enter_sendto -e syscalls:sys_enter_recvfrom -e syscalls:sys_exit_recvfrom -e syscalls:sys_enter_epoll_wait -e syscalls:sys_exit_epoll_wait -e syscalls:sys_enter_sched_yield -e syscalls:sys_enter_futex -e syscalls:sys_enter_epoll_pwait -e syscalls:sys_exit_epoll_pwait"
echo "== $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) md5 $(md5sum <build/Release/nixl_native.node | cut -c1-8) params '$PARAMS'"
perf record -q -C 0 $EV -o $D/ours$TAG.data -- taskset -c 0 node bin/nixl-ts-bench.js --no-progress \
  --op READ --path socket --block 4K --cells= --repeat 1 --iters 2000 $PARAMS 2>&1 | grep -E "^4096 "
[ -n "$TAG" ] && exit 0
echo "== $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) C floor"
perf record -q -C 0 $EV -o $D/floor.data -- taskset -c 0 /tmp/rr-wake read 4096 100 0
