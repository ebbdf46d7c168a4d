#!/bin/bash
# One-off probe for issue #17 (READ 32-64 KiB read by its polling caller):
# how a polled socket READ's answer is received, per thread of the
# initiator. perf records every recvfrom/recvmsg return of read-mid.ts (and
# of its target child) at one size; the summary counts, per thread, the
# returns that took a whole answer (header + payload + 4-byte trailer), the
# ones that took part of one (an answer received in pieces), and the empty
# ones (EAGAIN); 48 bytes is a header alone (the target's READ requests). Run it under the bench lock (perf adds a cost per call:
# read the counts, not the µs).
#   flock /tmp/bench.lock bench/probes/read-recvs.sh 32768 65536
# Env: CHUNKS (default 2, of 1000 transfers each), PARAMS (as read-mid.ts),
# TREE (the checkout whose read-mid.ts and build run; default this one).
cd "${TREE:-$(dirname "$0")/../..}"  # TREE: another checkout (its read-mid.ts and build)
DIR=$(mktemp -d /tmp/read-recvs.XXXXXX)  # perf keeps an existing output file as .old
trap 'rm -rf "$DIR"' EXIT
DATA=$DIR/perf.data
for size in "$@"; do
  echo "-- SIZE=$size"
  timeout 180 perf record -q -o "$DATA" -e syscalls:sys_exit_recvfrom -e syscalls:sys_exit_recvmsg -- \
    env OP=READ SIZES="$size" CHUNKS="${CHUNKS:-2}" npx tsx bench/probes/read-mid.ts 2>&1 | grep '^READ'
  perf script -i "$DATA" -F pid,tid,event,trace 2>/dev/null | python3 -c '
import collections, re, sys
whole = 48 + int(sys.argv[1]) + 4
n = collections.defaultdict(collections.Counter)
for line in sys.stdin:
    m = re.match(r"\s*(\d+)/(\d+)\s+syscalls:sys_exit_(\w+):\s+0x([0-9a-f]+)", line)
    if not m: continue
    pid, tid, call, ret = int(m[1]), int(m[2]), m[3], int(m[4], 16)
    if ret >= 1 << 63: ret -= 1 << 64
    kind = ("whole" if ret == whole else "48" if ret == 48 else "part" if 0 < ret < whole
            else "eagain" if ret == -11 else "other")
    n[(pid, tid)][call + " " + kind] += 1
# The initiator: the process whose threads received whole answers or parts
# (the target receives 48-byte READ requests).
init = {k[0] for k, c in n.items() if any(x.endswith(("whole", "part")) for x in c)}
for (pid, tid), c in sorted(n.items()):
    if pid not in init: continue
    who = "main thread" if pid == tid else f"thread {tid}"
    print(f"pid {pid} {who}: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
' "$size"
done
