#!/bin/bash
# The 8 interleaved pairs at 128 agents, back to back: main-before2 first (p128ab), then this branch first (p128ba).
cd /work/wt-d18stuck/bench/discovery/results/2026-12-06-dstuck || exit 1
SIZE=128 LIMIT_S=90 /work/main/bench/discovery/results/2026-12-05-dcpu2/scale-ab.sh 4 /tmp/main-before2 /work/wt-d18stuck p128ab
SIZE=128 LIMIT_S=90 /work/main/bench/discovery/results/2026-12-05-dcpu2/scale-ab.sh 4 /work/wt-d18stuck /tmp/main-before2 p128ba
echo "chain done $(date -u +%T)"
