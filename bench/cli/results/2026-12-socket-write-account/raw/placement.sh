#!/bin/bash
# Where the three busy threads run during one WRITE (or READ) cell: perf sched
# record of a short cell, then per thread the runs on each CPU, the median
# scheduling delay and the run time (raw/placement.py).
# OUT=dir raw/placement.sh OP BLOCK [BENCH]
OP=$1; BLK=$2; BENCH=${3:-node bin/nixl-ts-bench.js}
cd /work/wt-d17write
echo "== $OP $BLK $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg) [$BENCH]"
perf sched record -q -o /tmp/pl.data -- $BENCH --op $OP --path socket --block $BLK --cells= --iters 3000 --repeat 1 --wait poll --no-progress --out /tmp/pl-out 2>&1 | grep -E '^[0-9]+ +1 ' | awk '{print "cell", $1, $3, $4, "post", $7}'
perf sched timehist -i /tmp/pl.data 2>/dev/null > /tmp/pl.txt
python3 bench/cli/results/2026-12-socket-write-account/raw/placement.py /tmp/pl.txt
rm -f /tmp/pl.data
