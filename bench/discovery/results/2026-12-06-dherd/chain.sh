#!/bin/bash
# Four holds, each a pair in both orders (A B, then B A): mDNS 32, before (A) against this branch (B).
cd "$(dirname "$0")"
for i in 1 2 3 4; do
  ./hold.sh A:mdns-ab$i-A1:32:mdns B:mdns-ab$i-B1:32:mdns B:mdns-ba$i-B1:32:mdns A:mdns-ba$i-A1:32:mdns
  sleep 20   # let other engineers' queued holds in between
done
