#!/bin/bash
# mDNS at 32 after the saturated window was limited to directories of more than 64 members (/work/main),
# against main at the start of the stop (/tmp/main-before), both orders.
S=../2026-12-05-dcpu2/scale-ab.sh
SIZE=32 LIMIT_S=90 SCALE_ARGS="--source mdns" $S 1 /tmp/main-before /work/main mdnsfix-ab1
SIZE=32 LIMIT_S=90 SCALE_ARGS="--source mdns" $S 1 /work/main /tmp/main-before mdnsfix-ba1
SIZE=32 LIMIT_S=90 SCALE_ARGS="--source mdns" $S 1 /tmp/main-before /work/main mdnsfix-ab2
SIZE=32 LIMIT_S=90 $S 1 /work/main /tmp/main-before seedsfix-ba-32
