#!/bin/bash
# A/B with a third busy process on the 2 vCPUs: one shell loop that spins for
# at most HOG_S seconds (default 90), started here and ended by its PID.
# Usage: HOG_S=90 loaded.sh <ab.sh args>   (under flock /tmp/bench.lock)
cd "$(dirname "$0")"
timeout "${HOG_S:-90}" sh -c 'while :; do :; done' &
hog=$!
sleep 1
"$@"
kill "$hog" 2>/dev/null
wait "$hog" 2>/dev/null
true
