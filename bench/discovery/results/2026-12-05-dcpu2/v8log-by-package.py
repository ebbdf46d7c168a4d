import sys,csv,collections,re
for f in sys.argv[1:]:
  size=collections.Counter(); cnt=collections.Counter()
  for row in csv.reader(open(f, errors='replace')):
    if len(row)>6 and row[0]=='code-creation' and row[1]=='JS' and row[2]=='13':
        name=row[6]
        m=re.search(r'node_modules/((?:@[^/]+/)?[^/]+)',name)
        if m: k=m[1]
        elif 'node:' in name: k='node:'+name.split('node:')[1].split(':')[0]
        elif 'wt-dcpu/dist/' in name: k=name.split('wt-dcpu/dist/')[1].split(':')[0]
        else: k='(no script: protobufjs codegen?)'
        size[k]+=int(row[5]); cnt[k]+=1
  tot=sum(size.values())
  print(f, tot)
  for k,v in size.most_common(30): print(f'{100*v/tot:5.1f}% {cnt[k]:4d} {k}')
  break
