cd /work/wt-cliff
for rep in 1 2 3; do
  for v in old reno2m reno4m; do
    case $v in
      old) P="--param tcp_congestion=system --param poll_send_min_bytes=2097152";;
      reno2m) P="--param tcp_congestion=auto --param poll_send_min_bytes=2097152";;
      reno4m) P="--param tcp_congestion=auto --param poll_send_min_bytes=4194304";;
    esac
    echo "$rep $v $(date +%T) $(cat /proc/loadavg)"
    timeout 100 node bin/nixl-ts-bench.js --op READ,WRITE --path socket --block 64K,512K,1M,2M,4M,8M,16M $P --no-progress --json --out /tmp/cliff/ab3/$rep-$v > /tmp/cliff/ab3/$rep-$v.log 2>&1
  done
done
echo done $(date +%T) $(cat /proc/loadavg)
