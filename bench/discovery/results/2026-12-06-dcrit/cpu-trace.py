#!/usr/bin/env python3
"""Samples CPU use every 100 ms while a command runs: the machine's (/proc/stat, all
cores) and the benchmark workers' (processes whose command line names
bench/discovery/worker), in cores busy. One line per sample to OUT:
"epoch_ms machine_cores workers_cores n_workers". Bounded: stops when the command
exits, or after 300 s.
Usage: cpu-trace.py OUT CMD..."""
import os, subprocess, sys, time

HZ = os.sysconf('SC_CLK_TCK')
out, cmd = sys.argv[1], sys.argv[2:]


def machine():
    f = open('/proc/stat').readline().split()[1:]
    v = [int(x) for x in f]
    idle = v[3] + v[4]
    return sum(v[:8]) - idle, sum(v[:8])


def workers():
    ticks, n = 0, 0
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as f:
                if b'discovery/worker' not in f.read():
                    continue
            with open(f'/proc/{pid}/stat') as f:
                s = f.read().rsplit(')', 1)[1].split()
            ticks += int(s[11]) + int(s[12])
            n += 1
        except OSError:
            pass
    return ticks, n


child = subprocess.Popen(cmd)
end = time.time() + 300
pm, pw, pt = machine(), workers()[0], time.time()
with open(out, 'w') as o:
    while child.poll() is None and time.time() < end:
        time.sleep(0.1)
        m, (w, n), t = machine(), workers(), time.time()
        dt = t - pt
        cores = os.cpu_count() * (m[0] - pm[0]) / max(1, m[1] - pm[1])
        # A worker that exited drops its ticks: clamp at 0.
        wc = max(0, w - pw) / HZ / dt
        o.write(f'{int(t * 1000)} {cores:.2f} {wc:.2f} {n}\n')
        pm, pw, pt = m, w, t
sys.exit(child.wait())
