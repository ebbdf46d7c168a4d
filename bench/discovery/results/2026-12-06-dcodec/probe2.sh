#!/bin/bash
# The codec probe again with ~230 B member payloads (190 B of metadata), 5 rounds of main, branch, branch, main.
B=/tmp/main-before A=/work/wt-d18codec P=/work/wt-d18codec/dist/bench/probes/mesh-codec.js
for k in 1 2 3 4 5; do
  for t in $B $A $A $B; do
    flock /tmp/bench.lock bash -c "echo \"\$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg) \$(node $P $t)\"" >> probe230.log
  done
done
