# Medians of probe.log per tree and per position in the pair (the probe ran B A A B per round).
import json,statistics,sys
rows=[(l.split()[0],json.loads(l[l.index('{'):])) for l in open(sys.argv[1] if len(sys.argv)>1 else 'probe.log')]
keys=['importCpuMs','first78Ms','first78CpuMs','encodeUs','decodeUs']
for tree in sorted(set(r['tree'] for _,r in rows)):
    rs=[r for _,r in rows if r['tree']==tree]
    print(f"{tree}: n={len(rs)} frame {rs[0]['frameBytes']} B, payload {rs[0]['payloadBytes']} B; medians "+', '.join(f"{k} {statistics.median(r[k] for r in rs)}" for k in keys))
# pairs: rows 4k..4k+3 = B A A B: pair (B,A) main first, pair (A,B) branch first
won={k:[0,0] for k in keys}
for i in range(0,len(rows),2):
    a,b=rows[i][1],rows[i+1][1]
    m,br=(a,b) if 'main' in a['tree'] else (b,a)
    for k in keys:
        won[k][0]+=br[k]<m[k]; won[k][1]+=1
print('branch lower in: '+', '.join(f"{k} {w}/{n}" for k,(w,n) in won.items()))
