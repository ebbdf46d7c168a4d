import re,collections,csv,sys,glob
COMP = re.compile(r'\[completed compiling 0x[0-9a-f]+ <JSFunction (\S*) ?\(sfi = (0x[0-9a-f]+)\)> \(target (\w+)\)(?: (?:OSR )?- took ([\d.]+), ([\d.]+), ([\d.]+) ms)?')
DEOPT = re.compile(r'\[bailout \(kind: ([\w-]+), reason: ([^)]*)\): begin\. deoptimizing 0x[0-9a-f]+ <JSFunction (\S*) ?\(sfi = (0x[0-9a-f]+)\)>.*bytecode offset (\d+)')
tr, lg, base = sys.argv[1], sys.argv[2], int(sys.argv[3])
cnt=collections.Counter(); dep=collections.Counter()
for k in range(4):
    log=glob.glob(f'{lg}/*-{base+k}.log')[0]; where={}
    for row in csv.reader(open(log,errors='replace')):
        if len(row)>7 and row[0]=='code-creation' and row[1]=='JS': where[int(row[7],16)]=row[6]
    for line in open(f'{tr}/run-1-n128-worker-{k}.txt'):
        m=COMP.search(line)
        if m and m[4]:
            w=where.get(int(m[2],16)-1,'?'); 
            if 'plugins/' in w: cnt[re.sub(r'.*dist/','',w)]+=1
        m=DEOPT.search(line)
        if m:
            w=where.get(int(m[4],16)-1,'?')
            if 'plugins/' in w: dep[re.sub(r'.*dist/','',w)+' '+m[2]+' @'+m[5]]+=1
print('compiles of plugin functions', sum(cnt.values()), 'distinct', len(cnt), 'extra', sum(c-1 for c in cnt.values()) , '(per process: ', sum(max(0,c-4) for c in cnt.values()),'over 4)')
for k,c in cnt.most_common(20): print(c,k)
print('deopts in plugins', sum(dep.values()))
for k,c in dep.most_common(40): print(c,k)
