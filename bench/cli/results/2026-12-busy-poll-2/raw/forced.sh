#!/bin/bash
# forced.sh ENV: one 4 KiB socket READ cell (busy_poll_us=400, 100,000 transfers) whose two
# processes start pinned to CPU 1 and get both CPUs back once the target process has run ~1 s
# (every thread, twice, 0.5 s apart): the spinning caller and target I/O thread begin on one
# CPU, with the other one free.
cd "$(git rev-parse --show-toplevel)"
mkdir -p /tmp/bpoll2
env $1 taskset -c 1 node bin/nixl-ts-bench.js --no-progress --cells= --op ${OP:-READ} --path socket --block 4K --param busy_poll_us=400 --iters ${ITERS:-100000} --warmup-ms 0 > /tmp/bpoll2/forced-out.txt 2>&1 &
B=$!
C=
for i in $(seq 200); do C=$(pgrep -P $B | head -1); [ -n "$C" ] && break; sleep 0.05; done
sleep ${DELAY:-1}
for k in 1 2; do
  for p in $B $(pgrep -P $B); do taskset -a -p 3 $p > /dev/null 2>&1; done
  sleep 0.5
done
pinned=$(for p in $B $C; do for t in /proc/$p/task/*; do taskset -p ${t##*/} 2>/dev/null; done; done | grep -c "mask: 2$")
wait $B
grep -E "^[0-9]+ " /tmp/bpoll2/forced-out.txt | awk -v p=$pinned '{print "us/transfer", $4, "threads-still-pinned", p}'
