#!/bin/bash
# After chain.sh: one 128 start of each side with the accept-queue trace (main first), each its own lock hold.
cd /work/wt-d18stuck/bench/discovery/results/2026-12-06-dstuck || exit 1
while kill -0 "$1" 2>/dev/null; do sleep 5; done
../2026-12-06-dcrit/account-q.sh /tmp/main-before2 q-main-1
../2026-12-06-dcrit/account-q.sh /work/wt-d18stuck q-branch-1
echo "follow done $(date -u +%T)"
