#!/bin/bash
# After chain.sh: seeds 32 once each way (one hold: A B B A), then mDNS 64 once each way
# (A B, then B A, a hold each).
cd "$(dirname "$0")"
./hold.sh A:seeds-ab1-A1:32:seeds B:seeds-ab1-B1:32:seeds B:seeds-ba1-B1:32:seeds A:seeds-ba1-A1:32:seeds
sleep 20
./hold.sh A:mdns64-ab1-A1:64:mdns B:mdns64-ab1-B1:64:mdns
sleep 20
./hold.sh B:mdns64-ba1-B1:64:mdns A:mdns64-ba1-A1:64:mdns
