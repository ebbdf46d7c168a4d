# Adapted from results/2026-12-06-lead6/t.py: also the runs under 2 s, the max, CPU after ready
# and connections opened per agent, each side's medians.
import glob,re,statistics,sys
def run(p):
    t=open(p).read()
    g=lambda r: (re.search(r,t,re.M) or [None,None])[1]
    return dict(r=int(g(r'ready→all (\d+) ms') or 0), cpu=g(r'after ready (\d+)'), st=g(r'^start (\S+)'), ld=g(r'^start \S+ load (\S+)'),
                conns=g(r'conns mean \S+ max (\d+)'), peak=g(r'peak held \(100 ms samples\) mean \S+ max (\d+)'), kill=g(r'kill→all (\d+)'), leaves=g(r'leaves (\d+)'),
                refused=g(r'inbound refused at the bound (\d+)'), opened=g(r'opened mean (\S+) max'))
allo,alln,allw=[],[],0
for kind in sys.argv[1:]:
    old,new,won=[],[],0
    cpus={'before':[], 'after':[]}; opened={'before':[], 'after':[]}
    print(f'\n{kind}: pair | order | before ready→all / CPU (start, load) | after ready→all / CPU (start, load)')
    for pre in sorted(set(re.sub(r'-[AB]\d\.log$','',f) for f in glob.glob(kind+'*-A*.log'))):
        for i in range(1,10):
            a,b=f'{pre}-A{i}.log',f'{pre}-B{i}.log'
            try: ra,rb=run(a),run(b)
            except FileNotFoundError: continue
            if not ra['r'] or not rb['r']: continue  # a pair not finished (or a run without its figure)
            bf=re.sub(r'\d$','',pre).endswith('ab')
            o,n=(ra,rb) if bf else (rb,ra)
            old.append(o['r']); new.append(n['r']); won+=n['r']<o['r']
            for side,x in (('before',o),('after',n)):
                if x['cpu']: cpus[side].append(int(x['cpu']))
                if x['opened']: opened[side].append(float(x['opened']))
            fmt=lambda x:f"{x['r']} / {x['cpu']} ({x['st']}, {x['ld']}; kill {x['kill']}, leaves {x['leaves']}, max conns {x['conns']}/{x['peak']}, opened {x['opened']}, refused {x['refused']})"
            print(f"{pre}{i if i > 1 else ''} | {'before first' if bf else 'after first'} | {fmt(o)} | {fmt(n)}")
    print(f'medians before {statistics.median(old):.0f} after {statistics.median(new):.0f}; after earlier in {won} of {len(old)}')
    allo+=old; alln+=new; allw+=won
    for side,xs in (('before',old),('after',new)):
        print(f'  {side}: under 2 s {sum(x<2000 for x in xs)} of {len(xs)}, max {max(xs)}, sorted {sorted(xs)}; '
              f'CPU after ready median {statistics.median(cpus[side]) if cpus[side] else "?"}, conns opened/agent median {statistics.median(opened[side]) if opened[side] else "?"}')
if len(sys.argv) > 2 and allo:
    print(f'\nall pairs: medians before {statistics.median(allo):.0f} after {statistics.median(alln):.0f}; after earlier in {allw} of {len(allo)}; '
          f'under 2 s before {sum(x<2000 for x in allo)} of {len(allo)}, after {sum(x<2000 for x in alln)} of {len(alln)}; max before {max(allo)} after {max(alln)}')
