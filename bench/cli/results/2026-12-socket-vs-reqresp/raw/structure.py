"""Per-transfer counts from structure.sh output: perf stat totals divided by the transfers each run made."""
import re, sys
blocks = []
cur = None
for line in open(sys.argv[1]):
    if line.startswith("=="):
        w = line.split()
        cur = dict(side=w[1], op=w[2], bytes=int(w[3]), iters=int(w[5]) if w[1] == "ours" else 0, head=line.strip(), ev={})
        blocks.append(cur)
    elif cur and line.startswith("{"):
        m = re.search(r'"mean":([\d.]+).*"n":(\d+)', line)
        cur["us"] = float(m.group(1)); cur["n"] = int(m.group(2)) + 3  # + the 3 warm-up requests
    elif cur and re.match(r"^\d+ +1 ", line):
        cur["us"] = float(line.split()[3])
    elif cur and re.match(r"^\d+,", line):
        v, _, name = line.split(",")[:3]
        cur["ev"][name.replace("syscalls:sys_enter_", "")] = int(v)
for b in blocks:
    if b["side"] == "ours":
        # timed + warm-up iterations (/16 over 1 MiB, as the CLI runs them)
        f = 16 if b["bytes"] > (1 << 20) else 1
        b["n"] = b["iters"] // f + 100 // f
names = ["recvfrom", "sendto", "sendmsg", "epoll_wait", "epoll_pwait", "futex", "sched_yield", "read", "write", "context-switches", "cpu-migrations"]
print("| side | op | bytes | transfers | µs (that run) | " + " | ".join(names) + " |")
print("| --- " * (5 + len(names)) + "|")
for b in blocks:
    print(f"| {b['side']} | {b['op']} | {b['bytes']} | {b['n']} | {b.get('us', 0):.1f} | " + " | ".join(f"{b['ev'].get(n, 0) / b['n']:.2f}" for n in names) + " |")
