import json,sys,glob,collections,statistics,os
# Medians per cell and variant of interleaved nixl-ts-bench runs, each run's figure in brackets.
# usage: python3 summarize.py DIR   (DIR/<rep>-<variant>.json, nixl-ts-bench --json output)
base=sys.argv[1]
data=collections.defaultdict(list); loads={}
variants=[]
for f in sorted(glob.glob(base+'/*.json')):
    name=os.path.basename(f)[:-5]; rep,var=name.split('-',1)
    if var not in variants: variants.append(var)
    d=json.load(open(f))
    loads[name]=d['initiator']['loadAverage']['start'][0]
    for c in d['cells']:
        data[(c['op'],c['blockSize'],c['batch'],var)].append(c['gbps'])
cells=sorted({(k[0],k[1],k[2]) for k in data})
print('load at start:', ' '.join(f'{k}={v}' for k,v in sorted(loads.items())))
print('op    block     '+'  '.join(f'{v:>26}' for v in variants))
for op,b,bt in cells:
    row=[]
    for v in variants:
        xs=data[(op,b,bt,v)]
        row.append(f"{statistics.median(xs):6.2f} ({' '.join(f'{x:.2f}' for x in xs)})".rjust(26))
    print(f'{op:5} {b:>9}x{bt:<3} '+'  '.join(row))
