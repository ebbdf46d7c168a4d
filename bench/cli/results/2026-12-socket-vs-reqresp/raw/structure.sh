#!/bin/bash
# Syscalls and context switches per transfer, ours (both processes, all threads, warm-up
# included) against the blocking C request/response floor, one cell at a time.
# Usage: structure.sh DIR  (run from anywhere; prints perf stat output with == headers)
dir=$1
EV=syscalls:sys_enter_futex,syscalls:sys_enter_sendto,syscalls:sys_enter_sendmsg,syscalls:sys_enter_sched_yield,syscalls:sys_enter_recvfrom,syscalls:sys_enter_recvmsg,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_write,syscalls:sys_enter_read,context-switches,cpu-migrations
cc -O2 -o /tmp/f17-rr "$dir/bench/cli/baselines/request-response.c"
for cell in READ:32768:3000 WRITE:32768:3000 READ:524288:2000 WRITE:524288:2000 READ:8388608:4800 WRITE:8388608:4800; do
  IFS=: read op bytes iters <<<"$cell"
  flock /tmp/bench.lock bash -c "echo \"== ours $op $bytes iters $iters \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $dir && perf stat -x, -e $EV -- node bin/nixl-ts-bench.js --no-progress --op $op --path socket --block $bytes --cells= --iters $iters --warmup 100 --warmup-ms 0 --max-cell-seconds 20 --repeat 1 2>&1 | grep -E '^[0-9]+ +1 |^[0-9]+,|^<not'"
  lop=$(echo $op | tr A-Z a-z)
  flock /tmp/bench.lock bash -c "echo \"== floor $op $bytes \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; perf stat -x, -e $EV -- /tmp/f17-rr $lop $bytes 400 0 reno 2>&1"
done
