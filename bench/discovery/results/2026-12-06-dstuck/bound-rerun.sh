#!/bin/bash
# gossip-bound's "seed full of joiners" test, alone, on the branch and on main's two files
# (a copy of this tree at /tmp/d18stuck-mainfiles), each its own lock hold, so no timed run overlaps.
here=$(pwd)
for dir in /work/wt-d18stuck /tmp/d18stuck-mainfiles; do
  name=$( [ $dir = /work/wt-d18stuck ] && echo branch || echo mainfiles )
  flock /tmp/bench.lock bash -c "echo \"start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"; cd $dir && timeout 300 npx vitest run test/plugins/gossip-bound.test.ts -t 'seed full of joiners'; echo \"rc=\$? end \$(date -u +%T)\"" > $here/vitest-bound-$name-$1.log 2>&1
done
