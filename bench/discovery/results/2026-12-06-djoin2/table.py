#!/usr/bin/env python3
"""djoin's table (../2026-12-06-djoin/table.py: the join path's figures per scale.ts log) with
four more columns: connections held per agent at the end (mean), links shed as extra (all
agents), 'room' messages sent per agent (this branch's pointers) and suspicions raised (all
agents). python3 table.py LOG..."""
import re, subprocess, sys, os

here = os.path.dirname(os.path.abspath(__file__))
base = subprocess.run([sys.executable, os.path.join(here, '../2026-12-06-djoin/table.py'), *sys.argv[1:]],
                      capture_output=True, text=True, check=True).stdout.splitlines()
print(base[0] + ' held at end | shed | room msgs/agent | suspicions raised |')
print(base[1] + ' --- | --- | --- | --- |')
for path, row in zip(sys.argv[1:], base[2:]):
    t = open(path).read()
    held = re.search(r'^run 1 n=\d+: .* conns mean ([\d.]+)', t, re.M)
    shed = re.search(r'links shed as extra (\d+)', t)
    room = re.search(r'messages sent per agent by reason: .*?\broom ([\d.]+)', t)
    raised = re.search(r'suspicions held \d+ \(raised (\d+)\)', t)
    cells = [held[1] if held else '—', shed[1] if shed else '—', room[1] if room else '0', raised[1] if raised else '—']
    print(row + ' ' + ' | '.join(cells) + ' |')
