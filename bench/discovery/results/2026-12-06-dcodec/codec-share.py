# From trace-where.py's "by function" lines: TurboFan compilations after ready and their ms,
# of the codec code (protobufjs, its generated :3:17 codecs, protons-runtime, mesh-pb.js,
# mesh-wire.js), against the whole. Usage: codec-share.py WHERE_FILE...
import re,sys
groups={'protobufjs generated (:3:17)':r'^\s+\S+ ms .*\s:3:17$','protobufjs':r'node_modules/protobufjs/','protons-runtime':r'node_modules/protons-runtime/','mesh-pb.js (generated)':r'plugins/gossip/mesh-pb\.js','mesh-wire.js':r'plugins/gossip/mesh-wire\.js'}
for f in sys.argv[1:]:
    lines=open(f).read().split('-- by function\n',1)[1].splitlines()
    tot=[0,0.0]; g={k:[0,0.0] for k in groups}
    for l in lines:
        m=re.match(r'\s*([\d.]+) ms\s+[\d.]+ %\s+(\d+)x\s(.*)$',l)
        if not m: continue
        ms,n=float(m[1]),int(m[2]); tot[0]+=n; tot[1]+=ms
        for k,r in groups.items():
            if re.search(r,l): g[k][0]+=n; g[k][1]+=ms; break
    cn=sum(v[0] for v in g.values()); cm=sum(v[1] for v in g.values())
    print(f"{f}: all {tot[0]} compilations {tot[1]:.0f} ms; codec code {cn} compilations {cm:.0f} ms ({cm/tot[1]*100:.1f} % of the ms)")
    for k,(n,ms) in g.items(): print(f"   {k}: {n} compilations, {ms:.0f} ms")
