#!/bin/bash
# droom's timed pairs, one scale-ab.sh call (= one pair, each run its own lock hold) each:
# main = /tmp/main-now (7bbaa5d), V1 = /tmp/wt-d18room-after (709e79b: pointers from
# every link under the degree + dials in flight counted), V2 = /tmp/droom-v2 (V1 with
# pointers from a joiner's first link only, as main). Starts no pair after 05:05 UTC.
cd "$(dirname "$0")"
AB=../2026-12-05-dcpu2/scale-ab.sh
run() { # SIZE A B PREFIX
  if [ "$(date -u +%H%M)" -ge 0505 ]; then echo "skip $4 (05:05)"; return; fi
  SIZE=$1 LIMIT_S=90 SCALE_ARGS=--timeline $AB 1 "$2" "$3" "$4"
}
while [ "$(date -u +%H%M)" -lt 0455 ]; do sleep 10; done
run 128 /tmp/main-now /tmp/wt-d18room-after p1ab-v1
run 128 /tmp/droom-v2 /tmp/main-now p2ba-v2
run 128 /tmp/wt-d18room-after /tmp/main-now p3ba-v1
run 32 /tmp/main-now /tmp/wt-d18room-after q1ab-v1
