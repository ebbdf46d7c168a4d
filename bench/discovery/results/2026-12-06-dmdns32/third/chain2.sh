#!/bin/bash
# Two more mDNS 32 pairs each order (ab5 ba5 ab6 ba6), after chain.sh, as chain.sh's:
# its eight pairs split 4 of 8 with CPU per agent after ready higher on the branch in 6 of 8.
cd "$(dirname "$0")"
AB=../../2026-12-05-dcpu2/scale-ab.sh M=/tmp/main-before B=/work/wt-d18mdns3
for i in 5 6; do
  SIZE=32 LIMIT_S=90 SCALE_ARGS="--source mdns" $AB 1 $M $B mdns-ab$i
  SIZE=32 LIMIT_S=90 SCALE_ARGS="--source mdns" $AB 1 $B $M mdns-ba$i
done
