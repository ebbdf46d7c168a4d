#!/bin/bash
# The runs after the first three 64-agent pairs: 32 agents (2 pairs), 64 (2 more pairs), 128 (1 pair).
# A = main 6ef14fc (git archive in /tmp/mdns64-before, its own dist/), B = this branch.
AB=../2026-12-05-dcpu2/scale-ab.sh
while pgrep -f "scale-ab.sh 3 /tmp/mdns64-before" >/dev/null; do sleep 5; done
SIZE=32 LIMIT_S=90 SCALE_ARGS="--source mdns" bash $AB 2 /tmp/mdns64-before /work/wt-mdns64 mdns32
SIZE=64 LIMIT_S=90 SCALE_ARGS="--source mdns" bash $AB 2 /tmp/mdns64-before /work/wt-mdns64 mdns64-more
SIZE=128 LIMIT_S=150 SCALE_ARGS="--source mdns" bash $AB 1 /tmp/mdns64-before /work/wt-mdns64 mdns128
