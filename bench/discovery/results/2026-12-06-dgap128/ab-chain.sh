#!/bin/bash
# The cut's pairs, queued one after another (each run its own lock hold, through dcpu2's
# scale-ab.sh, --timeline): "ab" pairs run before (main) first, "ba" pairs after (this
# branch) first; the logs are renamed PREFIX-before.log / PREFIX-after.log.
# Usage: ab-chain.sh ORDER:PREFIX:SIZE ...
R=$(cd "$(dirname "$0")" && pwd)
AB=/work/wt-d18gap/bench/discovery/results/2026-12-05-dcpu2/scale-ab.sh
B=${B:-/tmp/main-before} W=${W:-/work/wt-d18gap}
pair() { # ORDER PREFIX SIZE
  if [ $1 = ab ]; then d1=$B d2=$W n1=before n2=after; else d1=$W d2=$B n1=after n2=before; fi
  SIZE=$3 LIMIT_S=90 SCALE_ARGS=--timeline bash $AB 1 $d1 $d2 $R/$2
  mv $R/$2-A1.log $R/$2-$n1.log; mv $R/$2-B1.log $R/$2-$n2.log
}
for spec in "$@"; do pair ${spec//:/ }; done
