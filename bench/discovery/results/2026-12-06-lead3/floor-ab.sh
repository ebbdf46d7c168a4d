#!/bin/bash
# The floor probe at 128 (stack layer), old code (ea8e41a, 2026-12-05 21:30) and main, order A B B A; each run its own lock hold.
for dir in /tmp/oldfloor /work/main /work/main /tmp/oldfloor; do
  flock /tmp/bench.lock bash -c "echo \"== $dir start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $dir && timeout 200 npx tsx bench/discovery/floor/floor.ts --size 128 --layers stack --compiled 2>&1 | grep '^run'"
done
