#!/bin/bash
# usage: stress.sh NAME RUNS HOGS TESTFILE [-t pattern]; HOGS bounded busy loops while each run goes
name=$1; runs=$2; hogs=$3; shift 3
cd /work/wt-flake
for i in $(seq 1 $runs); do
  pids=""
  for h in $(seq 1 $hogs); do timeout 280 node -e 'for(;;){}' & pids="$pids $!"; done
  uptime > /tmp/flake/$name.$i.log
  timeout 270 npx vitest run "$@" >> /tmp/flake/$name.$i.log 2>&1; echo "rc=$?" >> /tmp/flake/$name.$i.log
  kill $pids 2>/dev/null; wait $pids 2>/dev/null
  echo "$i $(tail -1 /tmp/flake/$name.$i.log)"
done
