import json, sys, glob, collections
# Self time by function (url basename:function), summed over the given .cpuprofile files.
tot = collections.Counter(); byfile = collections.Counter(); all_us = 0
for f in sys.argv[1:]:
    p = json.load(open(f))
    nodes = {n['id']: n for n in p['nodes']}
    dt = p['timeDeltas']; samples = p['samples']
    for s, d in zip(samples, dt):
        n = nodes[s]; cf = n['callFrame']
        url = cf['url'].split('/node_modules/')[-1] if '/node_modules/' in cf['url'] else cf['url'].split('/')[-1]
        tot[f"{url}:{cf['functionName'] or '(anon)'}"] += d
        byfile[url.split('/')[0] if '/node_modules/' in cf['url'] or cf['url'].startswith('@') else url] += d
        all_us += d
print('total ms', all_us/1000)
for k, v in tot.most_common(45): print(f"{v/all_us*100:5.1f}% {k}")
print('--- by file/package')
for k, v in byfile.most_common(30): print(f"{v/all_us*100:5.1f}% {k}")
