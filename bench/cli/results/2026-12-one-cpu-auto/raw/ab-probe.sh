#!/bin/bash
# Interleaved probe runs (bench/probes/poll-regime.ts, 4 KiB READ then WRITE, 6 chunks of 1000):
# A = main's addon (OLD), B = this branch's (NEW, poll_progress=auto), C = main's addon with
# PP=on. PIN_IO/PIN_SELF/PIN_PEER as the probe takes them. Run under flock.
cd "$(git rev-parse --show-toplevel)"
OLD=${OLD:-/tmp/pprog/main.node}
NEW=${NEW:-/tmp/pprog/auto5.node}
for r in $(seq 1 ${ROUNDS:-4}); do
  for V in ${VARIANTS:-A B}; do
    F=$OLD; [ $V = B ] && F=$NEW
    PP=""; [ $V = C ] && PP=on
    cp "$F" build/Release/nixl_native.node
    echo "== $V round $r $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) md5 $(md5sum <"$F" | cut -c1-8) PIN_IO=${PIN_IO:-} PIN_SELF=${PIN_SELF:-} PIN_PEER=${PIN_PEER:-} PP=$PP"
    PP=$PP timeout 120 npx tsx bench/probes/poll-regime.ts 2>&1 | grep chunk
  done
done
cp "$NEW" build/Release/nixl_native.node
