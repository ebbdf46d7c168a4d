#!/bin/bash
# main (A: /tmp/main-before, cfbdd81) against this branch (B), 128 agents: 3 pairs main first,
# 3 pairs branch first; then 32 once each way. Every run its own lock hold (scale-ab.sh).
cd "$(dirname "$0")"
ab=../2026-12-05-dcpu2/scale-ab.sh
A=/tmp/main-before B=/work/wt-d18refused
SIZE=128 LIMIT_S=90 $ab 3 $A $B ab-128 > ab-128.out 2>&1
SIZE=128 LIMIT_S=90 $ab 3 $B $A ba-128 > ba-128.out 2>&1
SIZE=32 LIMIT_S=90 $ab 1 $A $B ab-32 > ab-32.out 2>&1
SIZE=32 LIMIT_S=90 $ab 1 $B $A ba-32 > ba-32.out 2>&1
