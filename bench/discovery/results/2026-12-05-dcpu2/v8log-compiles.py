import sys,csv,collections
f=sys.argv[1]
cnt=collections.Counter(); size=collections.Counter(); t=[]
deopts=collections.Counter()
for row in csv.reader(open(f, errors='replace')):
    if not row: continue
    if row[0]=='code-creation' and row[1]=='JS' and row[2]=='13':
        name=row[6]; cnt[name]+=1; size[name]+=int(row[5]); t.append(int(row[3]))
    if row[0]=='code-deopt':
        deopts[(row[7],row[8])]+=1
print('turbofan compiles',sum(cnt.values()),'distinct',len(cnt),'bytes',sum(size.values()))
import bisect
t.sort()
for s in range(0,60,2):
    print(s, sum(1 for x in t if s*1e6<=x<(s+2)*1e6), end='; ')
print()
print('--- most compiled')
for n,c in cnt.most_common(15): print(c,size[n],n)
print('--- biggest')
for n,c in size.most_common(40): print(c,cnt[n],n)
print('--- deopts')
for n,c in deopts.most_common(40): print(c,n)
