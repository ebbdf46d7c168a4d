#!/bin/bash
# Interleaved A/B with the real probe: ab.sh base-params-inner sizes rounds out variants(name:ENV,..) ; name off* => notif_ack off
base="$1"; sizes="$2"; rounds="$3"; out="$4"; shift 4
cd "$(git rev-parse --show-toplevel)"
for r in $(seq 1 $rounds); do
  for v in "$@"; do
    name=${v%%:*}; envs=${v#*:}; envs=${envs//,/ }
    ack=on; [[ $name == off* ]] && ack=off
    params="{${base},\"notif_ack\":\"$ack\"}"
    echo "$name $(uptime | sed 's/.*load average: //')" >> "$out"
    env $envs timeout 100 npx tsx bench/probes/notif-write.ts --backend UCX --sizes "$sizes" --iters 3000 --seconds 1.5 --params "$params" 2>&1 | tail -1 >> "$out"
  done
done
