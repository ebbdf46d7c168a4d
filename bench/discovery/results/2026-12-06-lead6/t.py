import glob,re,statistics,sys
def run(p):
    t=open(p).read()
    g=lambda r: (re.search(r,t,re.M) or [None,None])[1]
    return dict(r=int(g(r'ready→all (\d+) ms') or 0), cpu=g(r'after ready (\d+)'), st=g(r'^start (\S+)'), ld=g(r'^start \S+ load (\S+)'),
                conns=g(r'conns mean \S+ max (\d+)'), peak=g(r'peak held \(100 ms samples\) mean \S+ max (\d+)'), kill=g(r'kill→all (\d+)'), leaves=g(r'leaves (\d+)'),
                refused=g(r'inbound refused at the bound (\d+)'))
for kind in sys.argv[1:]:
    old,new,won=[],[],0
    print(f'\n{kind}: pair | order | before ready→all / CPU (start, load) | after ready→all / CPU (start, load)')
    for pre in sorted(set(re.sub(r'-[AB]\d\.log$','',f) for f in glob.glob(kind+'*-A*.log'))):
        for i in (1,2):
            a,b=f'{pre}-A{i}.log',f'{pre}-B{i}.log'
            try: ra,rb=run(a),run(b)
            except FileNotFoundError: continue
            bf=re.sub(r'\d$','',pre).endswith('ab')
            o,n=(ra,rb) if bf else (rb,ra)
            old.append(o['r']); new.append(n['r']); won+=n['r']<o['r']
            fmt=lambda x:f"{x['r']} / {x['cpu']} ({x['st']}, {x['ld']}; kill {x['kill']}, leaves {x['leaves']}, max conns {x['conns']}/{x['peak']}, refused {x['refused']})"
            print(f"{pre}{i} | {'before first' if bf else 'after first'} | {fmt(o)} | {fmt(n)}")
    print(f'medians before {statistics.median(old):.0f} after {statistics.median(new):.0f}; after earlier in {won} of {len(old)}')
