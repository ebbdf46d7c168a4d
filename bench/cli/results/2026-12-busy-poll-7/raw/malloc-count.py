import re,collections,sys
blocks=open(sys.argv[1]).read().split('\n\n')
send=collections.Counter(); samples=[]
for b in blocks:
    b=b.strip()
    if not b: continue
    first,*stack=b.split('\n')
    m=re.match(r'\s*(\d+)\s+([\d.]+):\s+(\S+)',first)
    if not m: continue
    tid,t,ev=m.groups(); t=float(t)
    samples.append((tid,t,ev,[s.strip().split(None,1)[-1].split('+')[0] for s in stack[:6]]))
snd=[s for s in samples if 'sendto' in s[2]]
caller=collections.Counter(s[0] for s in snd).most_common(1)[0][0]
ts=sorted(s[1] for s in snd if s[0]==caller); n=len(ts)
t0,t1=ts[n//10],ts[n*9//10]; nt=n*8//10
print('transfers in the middle 80 %:',nt)
cnt=collections.Counter()
for tid,t,ev,st in samples:
    if 'malloc' in ev and t0<=t<=t1: cnt[' <- '.join(st[1:4])]+=1
for s,v in cnt.most_common(8): print('%6d %.3f/transfer  %s'%(v,v/nt,s[:200]))
