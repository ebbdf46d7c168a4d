cd /work/wt-cliff
for rep in 1 2 3 4 5; do
  for v in old new; do
    case $v in
      old) P="--param tcp_congestion=system --param poll_send_min_bytes=2097152";;
      new) P="";;
    esac
    echo "$rep $v $(date +%T) $(cat /proc/loadavg)"
    timeout 100 node bin/nixl-ts-bench.js --op READ,WRITE --path socket --block 4K,64K,512K,1M,2M,4M,8M,16M --cells 4Kx16,4Kx256 $P --no-progress --json --out /tmp/cliff/ab4/$rep-$v > /tmp/cliff/ab4/$rep-$v.log 2>&1
  done
done
echo done $(date +%T) $(cat /proc/loadavg)
