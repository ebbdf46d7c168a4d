#!/bin/bash
# Per log of this folder: a worker silent from the start (the deadlock dump), a worker that
# exited (EADDRINUSE on the seed port), or neither; then totals by kind (base/s128a: before).
for f in "$@"; do
  s=$(grep -c 'silent:' "$f"); e=$(grep -c 'EADDRINUSE' "$f"); k=$(grep -c 'KeyGenJob' "$f")
  echo "$f silent=$s keygen-deadlock-stack=$k eaddrinuse=$e start='$(head -1 "$f" | cut -d' ' -f2-5)'"
done
