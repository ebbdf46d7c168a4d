#!/bin/bash
# perf trace -s (syscall counts per thread): ours (default params, READ 4K, 2000 iters)
# and the C blocking floor, both pinned with taskset -c 0. Run under flock.
cd "$(git rev-parse --show-toplevel)"
echo "== $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) md5 $(md5sum <build/Release/nixl_native.node | cut -c1-8)"
perf trace -s -o /tmp/wake/ours-trace.txt -- taskset -c 0 node bin/nixl-ts-bench.js --no-progress \
  --op READ --path socket --block 4K --cells= --repeat 1 --iters 2000 2>&1 | grep -E "^4096 "
echo "== $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) C floor"
perf trace -s -o /tmp/wake/floor-trace.txt -- taskset -c 0 /tmp/rr-wake read 4096 100 0
