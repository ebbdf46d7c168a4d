#!/bin/sh
# Waits (outside the lock, at most WAIT_S seconds, default 300) until the
# machine looks quiet: the running count of /proc/loadavg (this check
# included) stays at 1 for 2 s (20 samples); then runs "$@" under the bench
# lock, after a "==" line with the UTC time and load.
WAIT_S=${WAIT_S:-300}
end=$(($(date +%s) + WAIT_S))
while [ "$(date +%s)" -lt "$end" ]; do
  quiet=1
  i=0
  while [ $i -lt 20 ]; do
    r=$(cut -d" " -f4 /proc/loadavg | cut -d/ -f1)
    if [ "$r" -gt 1 ]; then quiet=0; break; fi
    sleep 0.1
    i=$((i + 1))
  done
  [ $quiet = 1 ] && break
  sleep 1
done
flock /tmp/bench.lock sh -c 'echo "== start $(date -u +%H:%M:%S) load $(cut -d" " -f1-3 /proc/loadavg)"; "$@"' sh "$@"
