#!/bin/bash
# One-off probe for issue #17 (READ 8 KiB): TCP segments per polled socket
# READ, from the kernel's own counters (nstat, the whole host's loopback:
# run it under the bench lock), around read-4k.ts at each size. A transfer
# needs 2 data segments (the request, the answer); more means pure ACKs.
#   flock /tmp/bench.lock bench/probes/read-segs.sh 4096 8192 16384
cd "$(dirname "$0")/../.."
for size in "$@"; do
  nstat -n >/dev/null  # reset nstat's history: the next call prints deltas
  SIZE=$size OPS=READ CHUNKS=${CHUNKS:-4} timeout 120 npx tsx bench/probes/read-4k.ts 2>&1 | grep '^READ'
  echo "-- SIZE=$size kernel counters over the run (whole host):"
  nstat 2>/dev/null | grep -E 'TcpOutSegs|TcpInSegs|DelayedACK|PureAcks|HPAcks|TCPHPHits|QuickAck|TCPAckCompressed|TCPBacklog|TCPOFO|TcpRetrans'
done
