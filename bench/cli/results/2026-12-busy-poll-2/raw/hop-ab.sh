#!/bin/bash
# Interleaved A/B, whole CLI runs: main's addon (old.node) against the experiment build with
# the CPU hop on (hop.node + BP_HOP=1), copied over build/Release/nixl_native.node before each run
# (the target child loads the same file). Then the forced same-CPU start (forced.sh) for each.
cd "$(git rev-parse --show-toplevel)"
for r in $(seq 1 ${ROUNDS:-3}); do
  for V in old hop; do
    cp /tmp/bpoll2/$V.node build/Release/nixl_native.node
    E=; [ $V = hop ] && E=BP_HOP=1
    rm -f /tmp/bpoll2/hop-*
    echo "== $V round $r $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg)"
    env $E node bin/nixl-ts-bench.js --no-progress --op READ,WRITE --path socket --cells '' --block 4K,16K,64K --param busy_poll_us=400 --repeat 3 2>&1 | grep -E "^[0-9]+ "
    cat /tmp/bpoll2/hop-* 2>/dev/null | grep -v "yields 0 "
    rm -f /tmp/bpoll2/hop-*
    echo "forced: $("$(dirname "$(readlink -f "$0")")/forced.sh" "$E") $(cat /tmp/bpoll2/hop-* 2>/dev/null | grep -v 'yields 0 ')"
  done
done
cp /tmp/bpoll2/old.node build/Release/nixl_native.node
