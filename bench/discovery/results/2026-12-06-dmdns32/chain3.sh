#!/bin/bash
# One more mDNS 32 hold, B A A B (a fourth pair each way), queued beside chain2.sh's last holds.
./hold.sh B:mdns-ba4-B1:32:mdns A:mdns-ba4-A1:32:mdns A:mdns-ab4-A1:32:mdns B:mdns-ab4-B1:32:mdns
