#!/usr/bin/env bash
# The issue's command, K times (each run its own hold of the bench lock), to
# count how often a READ cell comes out slow; raw/cli-<tag>-<i>.txt each.
# BLOCKS: the block sizes (default the issue's 16K,32K,64K,128K).
#   ./cli.sh TAG K            (TREE=/tmp/d17slow-before for the "before" tree)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tree=${TREE:-$(cd "$here/../../../.." && pwd)}
for i in $(seq 1 "$2"); do
  f=$here/raw/cli-$1-$i.txt
  flock /tmp/bench.lock sh -c "echo \"== $1 $i start \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg) tree $tree\"; cd $tree && node bin/nixl-ts-bench.js --op READ --path socket --block ${BLOCKS:-16K,32K,64K,128K} --baseline --repeat 3 --wait poll --no-progress ${EXTRA:-} --out /tmp/d17slow-cli-out 2>&1; echo \"== end \$(date -u +%T) load \$(cut -d' ' -f1-3 /proc/loadavg)\"" >"$f"
  echo "$(head -1 "$f" | cut -c1-60): $(awk '/^(16384|32768|65536|131072) /{printf "%s %s us (post %s, yields %s, GB/s %s %s %s)  ", $1, $4, $7, $(NF-5), $(NF-4), $(NF-3), $(NF-2)}' "$f")"
done
