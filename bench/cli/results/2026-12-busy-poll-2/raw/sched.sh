#!/bin/bash
# perf sched of one busy-polled 4 KiB socket cell: which threads run, how often they switch.
cd "$(git rev-parse --show-toplevel)"
mkdir -p /tmp/bpoll2
echo "== $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) op $1"
perf sched record -a -o /tmp/bpoll2/sched-$1.data -- node bin/nixl-ts-bench.js --no-progress --cells= --op $1 --path socket --block ${2:-4K} --param busy_poll_us=400 --iters 5000 --warmup-ms 0 2>&1 | grep -E "^[0-9]+ "
perf sched timehist -i /tmp/bpoll2/sched-$1.data -s 2>/dev/null | grep -E "node|nixl|comm|----" | sort -k4 -n -r | head -14
