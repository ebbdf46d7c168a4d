#!/bin/bash
# The tiny sweep of cli.test.ts's first test, N times beside HOGS bounded busy loops: the path of each same-host cell.
n=$1; hogs=$2
cd /work/wt-flake
pids=""
for h in $(seq 1 $hogs); do timeout 280 node -e 'for(;;){}' & pids="$pids $!"; done
uptime
for i in $(seq 1 $n); do
  d=$(mktemp -d)
  timeout 60 node bin/nixl-ts-bench.js --start-block 4K --max-block 16K --iters 20 --warmup 2 --no-progress --op READ,WRITE --check --json --out $d 2>/dev/null \
    | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);console.log(r.cells.map(c=>c.path).join(" "))})'
  rm -rf $d
done
kill $pids 2>/dev/null; wait $pids 2>/dev/null
