#!/bin/bash
# The cold-start tail before and after the entries-list fix (6ab39f4): chain starts of
# 300 and 500, RUNS runs each, alternating trees; one lock hold, nice 19.
# before = 44b4e59 (/tmp/d18sim2-prefix, git archive), after = 6ab39f4 (/tmp/d18sim2-B).
RUNS=${1:-8}
flock /tmp/bench.lock bash -c "
echo \"# start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"
for i in \$(seq 1 $RUNS); do
  for t in prefix B; do
    cd /tmp/d18sim2-\$t
    echo \"\$t \$i: \$(timeout 120 nice -n 19 node --import tsx bench/discovery/sim/sim.ts --cold 300,500 --shapes chain --events '' --stress '' 2>&1 | grep '| chain |' | cut -d'|' -f1-4 | tr '\n' ' ')\"
  done
done
echo \"# end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\""
