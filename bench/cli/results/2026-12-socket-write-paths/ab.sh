#!/bin/bash
# usage: ab.sh TAG "variantA params" "variantB params" ... ; blocks in $BLOCKS, ops in $OPS, pairs $PAIRS
cd /work/wt-wbw
BLOCKS=${BLOCKS:-64K,256K,1M}; OPS=${OPS:-WRITE}; PAIRS=${PAIRS:-3}
tag=$1; shift
for i in $(seq 1 $PAIRS); do
  k=0
  for v in "$@"; do
    k=$((k+1))
    args=""; for p in $v; do args="$args --param $p"; done
    echo "== $tag pair $i variant $k [$v] $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)"
    flock /tmp/bench.lock node bin/nixl-ts-bench.js --op $OPS --block $BLOCKS --path socket --no-progress $args $EXTRA --out /tmp/wbw/out-$tag-$i-$k 2>&1 | grep -E "^(TCP (READ|WRITE)|[0-9]+ )" | awk '/^TCP/{print $2; next}{printf "  %8s %7s GB/s %8s us yields %s\n",$1,$3,$4,$13}'
  done
done
