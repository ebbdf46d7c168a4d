#!/bin/bash
# After chain2.sh: a fifth pair each way (mdns-ab1-A1 ran beside two short test runs of
# mine), then one --timeline run of each tree (their own holds, via timeline.sh).
cd "$(dirname "$0")"
./hold.sh A:mdns-ab5-A1:32:mdns B:mdns-ab5-B1:32:mdns B:mdns-ba5-B1:32:mdns A:mdns-ba5-A1:32:mdns
sleep 20
./timeline.sh mdns tl-mdns-branch-2.log /work/wt-d18herd
sleep 20
./timeline.sh mdns tl-mdns-main-2.log /tmp/main-before
