"""Per-transfer counts and step times from `perf script -F tid,time,event,trace` of sched.sh's
recordings. Roles are found from the data: for ours, the caller is the thread that enters
sendmsg and is not an I/O thread, the initiator I/O thread is the one whose recvfrom returns
the 4 KiB answer (0x1034 = 4096 + 52 header) when that is not the caller, the target I/O thread the one whose recvfrom
returns the 48-byte request (0x30). For the C floor: client = the thread whose recvfrom
returns 4096, server = the other. Steady window: transfers 40%..95% of the run."""
import re, sys, statistics as st
from collections import Counter, defaultdict

ev = []
for line in open(sys.argv[1]):
    m = re.match(r'\s*(\d+)\s+([\d.]+):\s+(\S+):\s*(.*)', line)
    if m:
        ev.append((int(m.group(1)), float(m.group(2)) * 1e6, m.group(3), m.group(4)))
floor = sys.argv[2] == 'floor'

prev_ev = {}
ret = Counter()
for i, (tid, t, name, tr) in enumerate(ev):
    if name == 'syscalls:sys_exit_recvfrom':
        ret[(tid, tr.strip())] += 1
if floor:
    client = max((c, tid) for (tid, r), c in ret.items() if r == '0x1000')[1]
    server = max((c, tid) for (tid, r), c in ret.items() if r == '0x8' and tid != client)[1]
    roles = {client: 'client', server: 'server'}
    mark_tid, mark_name = server, 'syscalls:sys_enter_sendto'
else:
    iio = max((c, tid) for (tid, r), c in ret.items() if r == '0x1034')[1]
    tio = max((c, tid) for (tid, r), c in ret.items() if r == '0x30')[1]
    senders = Counter(tid for tid, t, n, tr in ev if n == 'syscalls:sys_enter_sendmsg' and tid != tio)
    caller = senders.most_common(1)[0][0]
    # With poll_progress=on the caller receives the answer itself: no initiator I/O thread runs.
    roles = {caller: 'caller', tio: 'target-io'} if caller == iio else {caller: 'caller', iio: 'init-io', tio: 'target-io'}
    mark_tid, mark_name = tio, 'syscalls:sys_enter_sendmsg'

marks = [i for i, e in enumerate(ev) if e[0] == mark_tid and e[2] == mark_name]
lo, hi = marks[int(len(marks) * 0.4)], marks[int(len(marks) * 0.95)]
n = int(len(marks) * 0.95) - int(len(marks) * 0.4)
window = ev[lo:hi]
span = window[-1][1] - window[0][1]
print(f'{sys.argv[1]}: {len(marks)} transfers in the recording; window {n} transfers, {span/n:.1f} us each (under perf)')

sw = Counter(); sleeps = Counter(); preempt = Counter(); sysc = Counter(); runus = defaultdict(float)
futex_wait = Counter()
oncpu, since = None, None
for tid, t, name, tr in window:
    if name == 'sched:sched_switch':
        m = re.search(r'prev_pid=(\d+).*prev_state=(\S+) ==> .*next_pid=(\d+)', tr)
        p, state, nx = int(m.group(1)), m.group(2), int(m.group(3))
        if since is not None:
            runus[roles.get(p, 'other')] += t - since
        since = t
        sw['total'] += 1
        sw[roles.get(nx, 'other')] += 1
        (sleeps if state.startswith(('S', 'D')) else preempt)[roles.get(p, 'other')] += 1
    elif name.startswith('syscalls:sys_enter_'):
        s = name[len('syscalls:sys_enter_'):]
        sysc[(roles.get(tid, 'other'), s)] += 1
        if s == 'futex' and 'op: 0x00000080' in tr:
            futex_wait[roles.get(tid, 'other')] += 1
print(f'context switches per transfer: {sw["total"]/n:.2f}')
for r in list(roles.values()) + ['other']:
    print(f'  {r:10s} runs {sw[r]/n:.2f}x, {runus[r]/n:5.1f} us; leaves CPU asleep {sleeps[r]/n:.2f}, preempted {preempt[r]/n:.2f}; futex waits {futex_wait[r]/n:.2f}')
print('syscalls per transfer:', ', '.join(f'{r}:{s} {c/n:.2f}' for (r, s), c in sorted(sysc.items()) if c / n >= 0.05))

# Step times: the median gap between consecutive marks in the fixed per-transfer sequence.
def key(e):
    tid, t, name, tr = e
    r = roles.get(tid, 'other')
    short = name.split(':')[1]
    if 'recvfrom' in name and 'exit' in name:
        short += '=' + tr.strip()
    if name == 'sched:sched_switch':
        m = re.search(r'prev_pid=(\d+).*prev_state=(\S+) ==> .*next_pid=(\d+)', tr)
        short = f'switch {roles.get(int(m.group(1)),"other")}({m.group(2)})->{roles.get(int(m.group(3)),"other")}'
        r = 'cpu'
    if name in ('sched:sched_waking', 'sched:sched_wakeup'):
        m = re.search(r'pid=(\d+)', tr)
        short += ' ' + roles.get(int(m.group(1)), 'other')
    return f'{r}: {short}'

seqs = Counter()
cycles = []
ms = [i for i in marks if lo <= i < hi]
for a, b in zip(ms, ms[1:]):
    cyc = ev[a:b]
    sig = tuple(key(e) for e in cyc)
    seqs[sig] += 1
    cycles.append((sig, [e[1] for e in cyc], ev[b][1]))
print(f'{len(seqs)} distinct event sequences; the most common:')
for sig, c in seqs.most_common(2):
    print(f'--- {c} of {len(cycles)} transfers; median us from the previous event')
    gaps = [[] for _ in sig]
    tot = []
    for s, ts, tend in cycles:
        if s == sig:
            for j in range(1, len(ts)):
                gaps[j].append(ts[j] - ts[j - 1])
            gaps[0].append(0)
            tot.append(tend - ts[0])
    for j, k in enumerate(sig):
        print(f'  {st.median(gaps[j]):6.1f}  {k}')
    print(f'  cycle median {st.median(tot):.1f} us')
