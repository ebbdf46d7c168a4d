#!/usr/bin/env bash
# Runs a command on N emulated hosts (DESIGN.md recipe): inside a private
# `unshare -n` namespace that acts as the switch, N `ip netns` hosts on a
# bridge, addresses 198.18.0.1..N. The command runs once per host with
# HOST_INDEX (1..N) and HOST_IP set; the script waits for all of them.
# Usage (root): test/netns/hosts.sh N command [args...]
set -euo pipefail
N=${1:?usage: hosts.sh N command [args...]}
shift
exec unshare -n bash -c '
set -euo pipefail
N=$1; shift
P=nixlds$$
trap "for i in \$(seq 1 $N); do ip netns del $P-h\$i 2>/dev/null || true; done" EXIT
ip link set lo up
ip link add br0 type bridge
ip link set br0 up
for i in $(seq 1 "$N"); do
  ip netns add $P-h$i
  ip link add veth$i type veth peer name eth0 netns $P-h$i
  ip link set veth$i master br0 up
  ip -n $P-h$i link set lo up
  ip -n $P-h$i addr add 198.18.0.$i/24 dev eth0
  ip -n $P-h$i link set eth0 up
  ip -n $P-h$i route add 224.0.0.0/4 dev eth0
done
pids=()
for i in $(seq 1 "$N"); do
  HOST_INDEX=$i HOST_IP=198.18.0.$i ip netns exec $P-h$i "$@" &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=$?; done
exit $rc
' hosts "$N" "$@"
