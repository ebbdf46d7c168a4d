import sys,glob,statistics as st,collections
evs=[]
files=sorted(glob.glob('/tmp/ucxack/trace.*'))
# initiator = file containing event 11 most
cnt={f:collections.Counter(int(l.split()[1]) for l in open(f)) for f in files}
ini=max(files,key=lambda f:cnt[f][11])
for f in files:
    side='I' if f==ini else 'T'
    for l in open(f):
        ns,i,t=map(int,l.split()); evs.append((ns,side,i,t))
evs.sort()
names={1:'send',2:'sent',13:'sendReq',3:'T.recv',4:'T.pub',5:'T.acked',14:'T.ackReq',6:'ackRecv',7:'settled',8:'pollIn',9:'pollOut',10:'js',11:'post',12:'kick'}
# segments from each I.post to next I.post
segs=[];cur=None
for e in evs:
    if e[1]=='I' and e[2]==11:
        if cur: segs.append(cur)
        cur=[e]
    elif cur is not None: cur.append(e)
segs=segs[300:]
def first(seg,side,i,after=0):
    for e in seg:
        if e[1]==side and e[2]==i and e[0]>=after: return e[0]
    return None
d=collections.defaultdict(list)
pat=collections.Counter()
for s in segs:
    t0=s[0][0]
    pat[' '.join(s2[1]+names[s2[2]] for s2 in s[:14])]+=1
    for side,i in [('I',1),('I',2),('T',9),('T',3),('T',4),('T',5),('I',9),('I',6),('I',7),('I',10),('T',10)]:
        t=first(s,side,i)
        if t is not None: d[side+names[i]].append((t-t0)/1000)
    d['total'].append((s[-1][0]-t0)/1000 if len(s)>1 else 0)
for k,v in d.items():
    print(f"{k:10s} n={len(v):5d} med={st.median(v):8.1f} p90={sorted(v)[int(len(v)*.9)]:8.1f}")
for p,c in pat.most_common(8): print(c,p)
