#!/bin/bash
# mDNS at 32: main at the start of the stop (/tmp/main-before) against the merged tree, both orders.
S=../2026-12-05-dcpu2/scale-ab.sh
SIZE=32 LIMIT_S=90 SCALE_ARGS="--source mdns" $S 1 /tmp/main-before /work/main mdns-ab1
SIZE=32 LIMIT_S=90 SCALE_ARGS="--source mdns" $S 1 /work/main /tmp/main-before mdns-ba1
SIZE=32 LIMIT_S=90 SCALE_ARGS="--source mdns" $S 1 /tmp/main-before /work/main mdns-ab2
SIZE=32 LIMIT_S=90 SCALE_ARGS="--source mdns" $S 1 /work/main /tmp/main-before mdns-ba2
