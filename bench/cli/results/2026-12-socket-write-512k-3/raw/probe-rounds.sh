#!/bin/sh
# Interleaved rounds of C probes: each argument is one probe command line;
# every round runs them all in order. ROUNDS (default 5); prints a "==" line
# with the UTC time and load average before every round.
ROUNDS=${ROUNDS:-5}
r=1
while [ "$r" -le "$ROUNDS" ]; do
  echo "== round $r $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
  for cmd in "$@"; do
    sh -c "$cmd" 2>&1
  done
  r=$((r + 1))
done
