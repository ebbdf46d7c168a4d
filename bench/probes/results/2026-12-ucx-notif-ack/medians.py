"""Medians of the interleaved notif_ack off/on runs in tcp.txt and shm.txt (ab.sh's output), as markdown."""
import json
import statistics
import sys
from pathlib import Path

here = Path(__file__).parent
for name in sys.argv[1:] or ['tcp.txt', 'shm.txt']:
    runs = {'off': [], 'on': []}
    loads = []
    side = None
    for line in (here / name).read_text().splitlines():
        if line.startswith(('off ', 'on ')):
            side = line.split()[0]
            loads.append(float(line.split()[1].rstrip(',')))
        elif line.startswith('{'):
            runs[side].append(json.loads(line)['rows'])
    print(f'\n{name}: {len(runs["off"])} pairs, 1-minute load average {min(loads)}–{max(loads)}\n')
    print('|    size | cell          | notif_ack off (before) | notif_ack on |')
    print('| ------: | ------------- | ---------------------: | -----------: |')
    for i, row in enumerate(runs['off'][0]):
        for cell in ['polled', 'polled+notif', 'awaited', 'awaited+notif']:
            out = []
            for side in ['off', 'on']:
                raw = [r[i][cell] for r in runs[side]]
                out.append(f'{statistics.median(raw):g} {raw}'.replace(', ', ', '))
            print(f'| {row["size"]:>7} | {cell:<13} | {out[0]} | {out[1]} |')
