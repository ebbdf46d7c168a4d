"""CPU per agent after ready against frames sent per agent, with a term for the branch:
CPU = a + b * frames/agent + c * [B]. python3 fit.py AGENTS LOG... (A/B from the name: -A1, -B1)."""
import re, sys
import numpy as np

agents = int(sys.argv[1])
rows = []
for path in sys.argv[2:]:
    t = open(path).read()
    cpu = re.search(r'after ready (\d+);', t)
    fr = re.search(r'frames sent (\d+)', t)
    side = re.search(r'-([AB])\d+\.log$', path)
    if cpu and fr and side:
        rows.append((int(fr[1]) / agents, int(cpu[1]), side[1] == 'B'))
x = np.array([[1, f, b] for f, _, b in rows], float)
y = np.array([c for _, c, _ in rows], float)
co, *_ = np.linalg.lstsq(x, y, rcond=None)
r = y - x @ co
cov = (r @ r) / (len(y) - 3) * np.linalg.inv(x.T @ x)
print(f'{len(rows)} runs: a = {co[0]:.1f} ms, b = {co[1]:.2f} ms per frame sent per agent, '
      f'c (B - A) = {co[2]:.1f} +- {np.sqrt(cov[2, 2]):.1f} ms per agent (1 s.e.)')
