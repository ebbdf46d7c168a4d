#!/bin/bash
# Three more 32-agent pairs (the first two pairs were noisy), after chain.sh.
while pgrep -f "chain.sh" >/dev/null; do sleep 5; done
SIZE=32 LIMIT_S=90 SCALE_ARGS="--source mdns" bash ../2026-12-05-dcpu2/scale-ab.sh 3 /tmp/mdns64-before /work/wt-mdns64 mdns32-more
