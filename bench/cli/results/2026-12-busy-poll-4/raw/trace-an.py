import sys, struct, glob, statistics as st
# usage: an.py engine PREFIX | an.py c
mode=sys.argv[1]
ev=[]
if mode=='engine':
    for f in glob.glob(sys.argv[2]+'.*'):
        b=open(f,'rb').read()
        for i in range(0,len(b),16):
            ns,k=struct.unpack_from('<QQ',b,i)
            if ns==0: break
            ev.append((ns,k&255,k>>8))
else:
    for f in glob.glob('/tmp/bp4/c.*'):
        for l in open(f):
            a,b=l.split(); ev.append((int(a),int(b),0))
ev.sort()
# cycles: from each 1 to the next 1
starts=[i for i,(t,k,c) in enumerate(ev) if k==1]
offs={}
cycles=[]
for a,b in zip(starts,starts[1:]):
    t0=ev[a][0]; seg=ev[a:b]
    first={}
    cpu={}
    for t,k,c in seg:
        cpu.setdefault(k,c)
        # first occurrence for 2,5,6,7 ; for 3: first after 7 ; 4 last
        if k==3 and 10 not in first: continue
        if k==5 and 6 in first: continue
        if k not in first or k==4: first[k]=t-t0
    first['next']=ev[b][0]-t0
    first['same']=cpu.get(1)==cpu.get(6)
    cycles.append(first)
cycles=cycles[len(cycles)//10:]  # drop warm-up share
keys=[1,8,9,2,5,6,10,11,7,3,4,'next']
names={8:'caller sendmsg start',9:'caller sendmsg end',10:'target sendmsg start',11:'target sendmsg end',1:'caller enters post',2:'request sent (sendmsg returned)',5:'target epoll_wait returned',6:'target recv got request',7:'target answer sent',3:'caller recv got answer',4:'caller leaves post',
'next':'next post enters'}
print('cycles',len(cycles),'caller and target on one CPU: %.0f%%'%(100*sum(c['same'] for c in cycles)/len(cycles)))
for k in keys:
    v=[c[k] for c in cycles if k in c]
    if v: print('%-34s median %7.2f us  p25 %7.2f  p75 %7.2f  (n=%d)'%(names[k],st.median(v)/1e3,sorted(v)[len(v)//4]/1e3,sorted(v)[3*len(v)//4]/1e3,len(v)))
