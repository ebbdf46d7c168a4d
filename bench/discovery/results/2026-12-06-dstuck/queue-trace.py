#!/usr/bin/env python3
"""Samples, every 100 ms while a command runs, each benchmark worker's network
namespace (through /proc/PID/net/tcp, no process spawned): per listening socket
with a non-empty accept queue and per namespace, the accept queue length (rx_queue
of a LISTEN socket), its backlog, and the sockets in SYN_RECV. One line per
sample: "epoch_ms pid:port:acceptq/backlog:synrecv:listeners_on_port:owner ..." (the owner: the pid holding the listening socket, once its queue reaches 20). Bounded: stops when the
command exits, or after 300 s.
Usage: queue-trace.py OUT CMD..."""
import os, subprocess, sys, time

out, cmd = sys.argv[1], sys.argv[2:]


def workers():
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as f:
                if b'discovery/worker' in f.read():
                    yield pid
        except OSError:
            pass


def owner_of(inode):
    """The pid and thread count of the process holding socket inode (a stalled listener)."""
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            for fd in os.listdir(f'/proc/{pid}/fd'):
                if os.readlink(f'/proc/{pid}/fd/{fd}') == f'socket:[{inode}]':
                    return f'owner{pid}'
        except OSError:
            pass
    return 'owner?'


child = subprocess.Popen(cmd)
end = time.time() + 300
seen = {}
with open(out, 'w') as o:
    while child.poll() is None and time.time() < end:
        time.sleep(0.1)
        parts = []
        nets = set()
        for pid in workers():
            try:
                ns = os.readlink(f'/proc/{pid}/ns/net')
                if ns in nets:
                    continue
                nets.add(ns)
                syn, listen = 0, []
                with open(f'/proc/{pid}/net/tcp') as f:
                    next(f)
                    for line in f:
                        c = line.split()
                        st = c[3]
                        if st == '03':
                            syn += 1
                        elif st == '0A':
                            tx, rx = c[4].split(':')
                            port = int(c[1].split(':')[1], 16)
                            listen.append((port, int(rx, 16), int(tx, 16), c[9]))
                q = max(listen, key=lambda x: x[1], default=(0, 0, 0, '0'))
                same = sum(1 for l in listen if l[0] == q[0])
                owner = ''
                if q[1] >= 20:
                    owner = seen.get(q[3]) or owner_of(q[3])
                    seen[q[3]] = owner
                parts.append(f'{pid}:{q[0]}:{q[1]}/{q[2]}:{syn}:{same}:{owner}')
            except OSError:
                pass
        o.write(f'{int(time.time() * 1000)} {" ".join(parts)}\n')
sys.exit(child.wait())
