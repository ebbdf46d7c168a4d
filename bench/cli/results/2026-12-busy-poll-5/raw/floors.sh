#!/bin/bash
# main's addon, 4 KiB socket cells, with the request-response floor: default
# params (blocking floor) and busy_poll_us=400 (spinning floor), on one CPU
# (taskset -c 0, bench and target child) and unpinned.
cd "$(git rev-parse --show-toplevel)"
for args in "--cells= --repeat 1 --baselines reqresp" "--cells= --param busy_poll_us=400 --repeat 1 --baselines reqresp"; do
  for pin in "taskset -c 0" ""; do
    echo "== $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) md5 $(md5sum <build/Release/nixl_native.node | cut -c1-8) pin '$pin' args $args"
    timeout 120 $pin node bin/nixl-ts-bench.js --no-progress --op READ,WRITE --path socket --block 4K $args 2>&1 | grep -E "^4096 |^TCP|^socket|^- reqresp"
  done
done
