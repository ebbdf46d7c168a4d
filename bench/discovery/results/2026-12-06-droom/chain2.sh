#!/bin/bash
# More pairs after chain.sh (same dirs), while before 05:05 UTC.
cd "$(dirname "$0")"
AB=../2026-12-05-dcpu2/scale-ab.sh
run() { # SIZE A B PREFIX
  if [ "$(date -u +%H%M)" -ge 0505 ]; then echo "skip $4 (05:05)"; return; fi
  SIZE=$1 LIMIT_S=90 SCALE_ARGS=--timeline $AB 1 "$2" "$3" "$4"
}
while kill -0 "$(cat /tmp/droom-chain.pid)" 2>/dev/null; do sleep 2; done
run 128 /tmp/main-now /tmp/droom-v2 p4ab-v2
run 128 /tmp/main-now /tmp/wt-d18room-after p5ab-v1
run 128 /tmp/droom-v2 /tmp/main-now p6ba-v2
