#!/bin/bash
# Interleaved rounds of three variants (run under flock /tmp/bench.lock):
#   v0: the committed engine (scratch/build, through /tmp/wmid-run-old.mjs) at defaults
#   v1: the working tree's engine (build/) with $V1 (initiator params, default none)
#   v2: the working tree's engine with $V2 (initiator params)
# Usage: ROUNDS=3 V2="--initiator-param inline_write_max_bytes=524288" abc.sh <bench args...>
cd "$(dirname "$0")/../../../.."
for i in $(seq 1 "${ROUNDS:-3}"); do
  for v in v0 v1 v2; do
    case $v in
      v0) cmd="node /tmp/wmid-run-old.mjs"; extra="" ;;
      v1) cmd="node bin/nixl-ts-bench.js"; extra="$V1" ;;
      v2) cmd="node bin/nixl-ts-bench.js"; extra="$V2" ;;
    esac
    echo "== round $i $v [$extra] $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
    $cmd --no-progress "$@" $extra 2>&1 | grep -E '^[0-9]+ +[0-9]+ '
  done
done
