#!/bin/bash
# Per-transfer account of socket WRITE against READ (issue #17), default
# params, --wait poll: one cell per process, run for 6 s; 2.5 s in, for 1 s,
# `perf stat --per-thread` counts each thread's system calls (tracepoints:
# counted in the kernel, nothing written per event, so the cell's timing and
# the engine's regime stay as they are; perf trace slowed 4 KiB to 164 µs and
# flipped poll_progress=auto) and context switches, and /proc gives each
# thread's voluntary / involuntary switches over the same second. The C
# request/response floor (blocking) the same way.
# Run: flock /tmp/bench.lock nice -n 10 ./account.sh OUTDIR [BENCH-COMMAND]
set -euo pipefail
OUT=${1:?outdir}; BENCH=${2:-node bin/nixl-ts-bench.js}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
EV=context-switches,cpu-migrations,raw_syscalls:sys_enter
for s in sendmsg sendto recvfrom epoll_wait sched_yield futex write read epoll_ctl; do EV=$EV,syscalls:sys_enter_$s; done
RR=/tmp/acct-request-response
[ -x $RR ] || gcc -O2 -o $RR bench/cli/baselines/request-response.c
switches() { for t in /proc/$1/task/*; do echo "$(basename $t) $(grep -h ctxt_switches $t/status | awk '{printf "%s ", $2}')"; done; }
window() { # tag pids...
  local tag=$1; shift
  local all=$(echo "$@" | tr ' ' ',')
  for p in "$@"; do switches $p > "$OUT/sw0-$tag-$p.txt"; done
  perf stat --per-thread -x, -e $EV -p $all -o "$OUT/stat-$tag.csv" -- sleep 1 2>/dev/null || true
  for p in "$@"; do switches $p > "$OUT/sw1-$tag-$p.txt"; done
}
cell() { # op block
  local tag=$1-$2
  echo "== $tag $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
  $BENCH --op $1 --path socket --block $2 --cells= --iters 10000000 --max-cell-seconds 6 --repeat 1 \
    --wait poll --no-progress --out /tmp/acct-out > "$OUT/bench-$tag.txt" 2>&1 &
  local b=$!
  sleep 2.5
  window $tag $b $(pgrep -P $b node || true)
  wait $b
  grep -A2 '^Block' "$OUT/bench-$tag.txt" | tail -1
}
floor() { # op bytes
  local tag=reqresp-$1-$2
  echo "== $tag $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
  $RR $1 $2 5000 0 reno > "$OUT/bench-$tag.txt" &
  local b=$!
  sleep 1.5
  window $tag $b $(pgrep -P $b || true)
  wait $b
  cat "$OUT/bench-$tag.txt"
}
for blk in ${BLOCKS:-4K 64K 512K}; do
  for op in WRITE READ; do cell $op $blk; done
done
for b in ${FLOOR_BYTES:-4096 65536 524288}; do for op in write read; do floor $op $b; done; done
