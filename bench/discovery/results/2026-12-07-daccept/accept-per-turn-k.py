#!/usr/bin/env python3
"""Node 20's accepts per event-loop iteration when one port has K listening
handles in the same loop. Makes the listening sockets here and hands them to
`node accept-per-turn-k.mjs` as inherited fds (their numbers as arguments):
  one        one socket (Node's own case: one accept per iteration)
  dup K      one socket (one accept queue) and K-1 dup()s of it: K libuv handles
  reuseport K  K sockets bound to one port with SO_REUSEPORT (K accept queues)
Loopback only. Usage: accept-per-turn-k.py MODE [K]"""
import os, socket, subprocess, sys

mode = sys.argv[1]
k = int(sys.argv[2]) if len(sys.argv) > 2 else 1
here = os.path.dirname(os.path.abspath(__file__))
socks = []
keep = []  # the socket objects: a collected one closes its fd
if mode == 'reuseport':
    port = 0
    for i in range(k):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(('127.0.0.1', port))
        s.listen(511)
        port = s.getsockname()[1]
        keep.append(s)
        socks.append(s.fileno())
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(('127.0.0.1', 0))
    s.listen(511)
    socks.append(s.fileno())
    for i in range(k - 1 if mode == 'dup' else 0):
        socks.append(os.dup(s.fileno()))
sys.exit(subprocess.call(['node', os.path.join(here, 'accept-per-turn-k.mjs'), mode] +
                         [str(fd) for fd in socks], pass_fds=socks))
