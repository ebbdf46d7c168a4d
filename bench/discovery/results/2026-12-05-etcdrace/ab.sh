#!/bin/bash
# usage: ab.sh PAIRS TAG TESTNAME -- interleaved pre/fix runs of one test under 2 busy loops
P=$1; tag=$2; name=$3
timeout 330 sh -c 'while :; do :; done' & L1=$!
timeout 330 sh -c 'while :; do :; done' & L2=$!
declare -A pass fail; start=$(date +%s)
echo "start $(uptime)"
for i in $(seq 1 $P); do
  for v in pre fix; do
    [ $(( $(date +%s) - start )) -gt 300 ] && break 2
    d=/tmp/etcdrace/pre; [ $v = fix ] && d=/work/wt-etcdrace
    if (cd $d && timeout 60 npx vitest run test/integration/discovery-etcd.test.ts -t "$name" > /tmp/etcdrace/$tag-$v-$i.log 2>&1); then pass[$v]=$(( ${pass[$v]:-0}+1 )); else fail[$v]=$(( ${fail[$v]:-0}+1 )); fi
  done
done
kill $L1 $L2 2>/dev/null
echo "$tag pre: pass=${pass[pre]:-0} fail=${fail[pre]:-0}; fix: pass=${pass[fix]:-0} fail=${fail[fix]:-0}; end $(uptime)"
