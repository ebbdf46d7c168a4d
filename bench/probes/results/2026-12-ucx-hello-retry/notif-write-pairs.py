# Pair statistics of raw-notif-write-40-pairs.txt style files (old/new lines alternating):
#   python3 notif-write-pairs.py raw-notif-write-40-pairs.txt
import sys, json, statistics as st
pairs=[]
for f in sys.argv[1:]:
    rows=[]
    for l in open(f):
        if l.startswith('#') or not l.strip(): continue
        w, rest = l.split(' ',1); rows.append((w, json.loads(rest[rest.index('{'):])['rows'][0]))
    for i in range(0,len(rows)-1,2):
        assert rows[i][0]=='old' and rows[i+1][0]=='new'; pairs.append((rows[i][1],rows[i+1][1]))
print(len(pairs),'pairs')
for cell in ['polled','polled+notif','awaited','awaited+notif']:
    A=[p[0][cell] for p in pairs]; B=[p[1][cell] for p in pairs]; d=[y-x for x,y in zip(A,B)]
    n=sum(x>0 for x in d)
    from math import comb
    N=len(d); k=min(n,N-n); p=min(1,2*sum(comb(N,i) for i in range(k+1))/2**N)
    print(f"  {cell:14s} old {st.median(A):6.1f} new {st.median(B):6.1f} median diff {st.median(d):+6.1f} new slower {n}/{N} sign p={p:.2f}")
