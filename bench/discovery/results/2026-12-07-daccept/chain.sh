#!/bin/bash
# What ran, in order, each run its own hold of /tmp/bench.lock (run from this folder):
# 4 pairs at 128 main first (p128ab: A = main), 4 branch first (p128ba: A = the branch),
# then the accept-queue traces (dcrit's account-q.sh: --timeline under queue-trace.py),
# interleaved: main, branch, branch, main.
AB=/work/wt-d18accept/bench/discovery/results/2026-12-05-dcpu2/scale-ab.sh
Q=/work/wt-d18accept/bench/discovery/results/2026-12-06-dcrit/account-q.sh
M=/tmp/main-before B=/work/wt-d18accept
SIZE=128 LIMIT_S=90 $AB 4 $M $B p128ab
SIZE=128 LIMIT_S=90 $AB 4 $B $M p128ba
SIZE=128 $Q $M q-main-1
SIZE=128 $Q $B q-branch-1
SIZE=128 $Q $B q-branch-2
SIZE=128 $Q $M q-main-2
