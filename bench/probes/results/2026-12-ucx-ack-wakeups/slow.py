import glob,collections
files=sorted(glob.glob('/tmp/ucxack/trace.*'))
cnt={f:collections.Counter(int(l.split()[1]) for l in open(f)) for f in files}
ini=max(files,key=lambda f:cnt[f][11])
names={1:'send',2:'sent',13:'sendReq',3:'T.recv',4:'T.pub',5:'T.acked',14:'T.ackReq',6:'ackRecv',7:'settled',8:'pollIn',9:'pollOut',10:'js',11:'post',12:'kick'}
evs=[]
for f in files:
    side='I' if f==ini else 'T'
    for l in open(f):
        ns,i,t=map(int,l.split()); evs.append((ns,side,i,t))
evs.sort()
posts=[k for k,e in enumerate(evs) if e[1]=='I' and e[2]==11]
durs=[(evs[posts[k+1]][0]-evs[posts[k]][0],k) for k in range(300,len(posts)-1)]
import statistics
print('median',statistics.median(d for d,_ in durs)/1000)
slow=[k for d,k in durs if d>100000]
print('slow',len(slow),'of',len(durs))
for k in slow[5:8]:
    t0=evs[posts[k]][0]
    for e in evs[posts[k]:posts[k+1]+1]:
        print(f"{(e[0]-t0)/1000:9.1f} {e[1]} {e[3]} {names[e[2]]}")
    print('--')
