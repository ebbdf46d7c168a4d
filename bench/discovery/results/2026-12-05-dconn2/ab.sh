#!/bin/bash
# usage: ab.sh PAIRS SIZE PREFIX  (A = before, B = after; order alternates per pair)
pairs=$1 size=$2 pre=$3
for i in $(seq 1 $pairs); do
  if [ $((i % 2)) = 1 ]; then order="before after"; else order="after before"; fi
  for side in $order; do
    dir=/tmp/dconn2-before; [ $side = after ] && dir=/work/wt-dconn2
    SIZE=$size /tmp/dconn2/run1.sh $dir $pre-p$i-$side-$size.log X=1
  done
done
