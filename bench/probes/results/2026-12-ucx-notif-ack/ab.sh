#!/bin/bash
# Interleaved A/B of bench/probes/notif-write.ts for UCX: notif_ack off (as before) vs on, one lock hold.
base="$1"; sizes="$2"; out="$3"; runs="${4:-3}"
cd /work/wt-flake
for r in $(seq 1 $runs); do
  for ack in off on; do
    params="{${base},\"notif_ack\":\"$ack\"}"
    echo "$ack $(uptime | sed 's/.*load average: //')" >> "$out"
    timeout 100 npx tsx bench/probes/notif-write.ts --backend UCX --sizes "$sizes" --iters 3000 --seconds 1.5 --params "$params" 2>&1 | tail -1 >> "$out"
  done
done
