#!/bin/bash
# A fourth pair each order at 128 (time allowed it), as run-all.sh.
cd "$(dirname "$0")"
ab=../2026-12-05-dcpu2/scale-ab.sh
A=/tmp/main-before B=/work/wt-d18refused
SIZE=128 LIMIT_S=90 $ab 1 $A $B ab4-128 > ab4-128.out 2>&1
SIZE=128 LIMIT_S=90 $ab 1 $B $A ba4-128 > ba4-128.out 2>&1
