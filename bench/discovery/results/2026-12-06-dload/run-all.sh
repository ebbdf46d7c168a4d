#!/bin/bash
# What ran, in this order (each run takes /tmp/bench.lock itself). The first scale pair
# (scale128-main-first, 06:53-06:58) ran at 6913b44 (AddPeer without a wake-up only).
cd /work/wt-d18load/bench/discovery/results/2026-12-06-dload
ROUNDS=10 /work/wt-d18load/bench/discovery/results/2026-12-06-dload/micro-ab.sh 10 /tmp/wt-d18load-before /work/wt-d18load /work/wt-d18load/bench/discovery/results/2026-12-06-dload/micro > /work/wt-d18load/bench/discovery/results/2026-12-06-dload/micro-ab.out 2>&1
SIZE=128 LIMIT_S=90 /work/wt-d18load/bench/discovery/results/2026-12-05-dcpu2/scale-ab.sh 1 /work/wt-d18load /tmp/main-before /work/wt-d18load/bench/discovery/results/2026-12-06-dload/scale128-dload-first > /work/wt-d18load/bench/discovery/results/2026-12-06-dload/scale128-dload-first.out 2>&1
