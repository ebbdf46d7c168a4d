#!/bin/bash
# This session's pairs, queued one after another (each run its own lock hold):
# "ba" pairs run after (this branch) first, "ab" pairs before (main) first; the
# logs are renamed PREFIX-before.log / PREFIX-after.log. W: the "after" tree (default this worktree).
R=/work/wt-d18conn/bench/discovery/results/2026-12-06-djoin
B=/tmp/wt-d18conn-before W=${W:-/work/wt-d18conn}
pair() { # ORDER PREFIX SIZE
  if [ $1 = ab ]; then d1=$B d2=$W n1=before n2=after; else d1=$W d2=$B n1=after n2=before; fi
  SIZE=$3 LIMIT_S=90 SCALE_ARGS=--timeline bash $R/scale-ab.sh 1 $d1 $d2 $R/$2
  mv $R/$2-A1.log $R/$2-$n1.log; mv $R/$2-B1.log $R/$2-$n2.log
}
for spec in "$@"; do pair ${spec//:/ }; done
