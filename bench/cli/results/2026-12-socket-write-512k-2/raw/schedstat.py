# perf sched timehist -w output -> per I/O-thread pair: run time, scheduling delay, and whether the
# target's run shared a CPU with the initiator I/O thread's run just before it.
import sys, statistics as st, collections
ini, tgt = sys.argv[2], sys.argv[3]
ev=[]
for l in open(sys.argv[1]):
    f=l.split()
    if len(f)<6 or 'awakened' in l: continue
    try: t=float(f[0]); cpu=f[1]; name=f[2]; wait,sch,run=map(float,f[3:6])
    except ValueError: continue
    if name in (ini,tgt): ev.append((t,cpu,name,sch*1e3,run*1e3))
last_ini=None; same=[]; diff=[]
for e in ev:
    if e[2]==ini: last_ini=e
    elif last_ini:
        (same if last_ini[1]==e[1] else diff).append(e)
def s(v,i): return 'n=%d med %.1f'%(len(v),st.median([x[i] for x in v])) if v else 'n=0'
print('target runs on the CPU of the sender: run', s(same,4),'sch delay', s(same,3))
print('target runs on the other CPU:         run', s(diff,4),'sch delay', s(diff,3))
iv=[e for e in ev if e[2]==ini]
print('initiator I/O runs: run', s(iv,4), 'CPUs', dict(collections.Counter(e[1] for e in iv)))
