#!/bin/bash
# The floor's layers at a quiet moment (one lock hold), beside the A/B pairs' main runs.
cd "$(dirname "$0")"
flock /tmp/bench.lock bash -c "echo \"start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd /work/wt-d18gap && timeout 280 npx tsx bench/discovery/floor/floor.ts --size 128 --layers stack-load,stack-load+frames+paced,stack-load+refused,stack-load+frames+paced+refused --compiled --frames 30x1450,7x2600,9x135,5x1420,3x830,5x40 --refused 5; echo \"--- end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" > r6-128-floor.log 2>&1
