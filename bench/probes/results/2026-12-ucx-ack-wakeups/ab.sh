#!/bin/bash
# usage: ab.sh base-params-inner mode rounds variants... ; variant = name:ENV=..,ENV=.. ; a name starting with "off" adds notif_ack off
base="$1"; mode="$2"; rounds="$3"; shift 3
cd "$(git rev-parse --show-toplevel)"
for r in $(seq 1 $rounds); do
  for v in "$@"; do
    name=${v%%:*}; envs=${v#*:}; envs=${envs//,/ }
    ack=on; [[ $name == off* ]] && ack=off
    params="{${base},\"notif_ack\":\"$ack\"}"
    l=$(cut -d' ' -f1 /proc/loadavg)
    o=$(env $envs timeout 60 npx tsx bench/probes/results/2026-12-ucx-ack-wakeups/ack-latency.ts "$params" $mode ${N:-2000} 2>&1 | tail -1 | sed 's/.*"us"://; s/}//')
    echo "$name $mode $l $o"
  done
done
