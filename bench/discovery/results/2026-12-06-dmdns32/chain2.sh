#!/bin/bash
# mDNS 32, before (A) against this branch (B): three holds A B B A / B A A B / A B B A, i.e.
# three pairs with A first (ab) and three with B first (ba); then seeds 32 once each way, and
# mDNS 64 once on the branch.
./hold.sh A:mdns-ab1-A1:32:mdns B:mdns-ab1-B1:32:mdns B:mdns-ba1-B1:32:mdns A:mdns-ba1-A1:32:mdns
./hold.sh B:mdns-ba2-B1:32:mdns A:mdns-ba2-A1:32:mdns A:mdns-ab2-A1:32:mdns B:mdns-ab2-B1:32:mdns
./hold.sh A:mdns-ab3-A1:32:mdns B:mdns-ab3-B1:32:mdns B:mdns-ba3-B1:32:mdns A:mdns-ba3-A1:32:mdns
./hold.sh A:seeds-ab1-A1:32:seeds B:seeds-ab1-B1:32:seeds B:seeds-ba1-B1:32:seeds A:seeds-ba1-A1:32:seeds
./hold.sh B:mdns64-B1:64:mdns
