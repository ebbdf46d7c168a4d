"""perf script -F comm,pid,tid,time,ip,sym,dso (with callchains) of a scale run -> the
workers' CPU samples (the 4 node processes with the most samples) by thread kind (main:
tid == pid; helpers: the others) and, for each, by what the thread was doing (the first
frame from the leaf that matches a category)."""
import re, sys, collections
CATS = [
    ('scavenge (young GC, parallel)', r'Scaveng|SemiSpace|NewSpace::|YoungGeneration|PretenuringHandler'),
    ('concurrent/incremental marking', r'ConcurrentMarking|IncrementalMarking|MarkingVisitor|MarkingBarrier|MarkingWorklist|ConcurrentMarkingVisitor'),
    ('mark-compact (full GC)', r'MarkCompact|Evacuat|PointersUpdating|RememberedSet|Compaction'),
    ('sweeper', r'Sweeper|ArrayBufferSweeper|SweepArrayBuffer'),
    ('other GC / heap', r'v8::internal::Heap::|GCTracer|MemoryAllocator|PagedSpace|LocalHeap|GlobalHandles|EmbedderHeap|CppHeap|cppgc'),
    ('TurboFan (optimizing compiler)', r'v8::internal::compiler::|OptimizingCompileDispatcher|TurbofanCompilationJob|PipelineCompilationJob'),
    ('Maglev', r'maglev'),
    ('parser/bytecode/baseline', r'v8::internal::(Parser|Scanner|interpreter|baseline|Compiler|BackgroundCompileTask|Zone)'),
    ('crypto (openssl)', r'libcrypto|EVP_|ED25519|x25519|chacha|poly1305|sha256|SHA256'),
    ('libuv threadpool', r'uv__fs_work|uv__work_submit| worker \(/usr/bin/node\)'),
    ('kernel', r'\[kernel\.kallsyms\]'),
]
CAT = [(n, re.compile(r)) for n, r in CATS]
path = sys.argv[1]
samples = []
cur = None
for line in open(path, errors='replace'):
    m = re.match(r'\s*(\S+)\s+(\d+)/(\d+)\s+([\d.]+):', line)
    if m:
        if cur: samples.append(cur)
        cur = [m[1], int(m[2]), int(m[3]), float(m[4]), []]
    elif line.strip() and cur is not None:
        cur[4].append(line.strip())
if cur: samples.append(cur)
workers = [p for p, _ in collections.Counter(s[1] for s in samples if s[0] == 'node').most_common(4)]
by = {'main': collections.Counter(), 'helpers': collections.Counter()}
leaf = {'main': collections.Counter(), 'helpers': collections.Counter()}
for comm, pid, tid, t, frames in samples:
    if pid not in workers: continue
    kind = 'main' if pid == tid else 'helpers'
    owner = 'other'
    for f in frames:
        hit = next((n for n, r in CAT if r.search(f)), None)
        if hit: owner = hit; break
    by[kind][owner] += 1
    if frames: leaf[kind][re.sub(r'^[0-9a-f]+ ', '', frames[0])[:110]] += 1
N = sum(sum(c.values()) for c in by.values())
print(f'workers {workers}: {N} samples')
for kind in ('main', 'helpers'):
    n = sum(by[kind].values())
    print(f'-- {kind}: {n} samples, {100*n/N:.1f} % of the workers\'')
    for o, c in by[kind].most_common():
        print(f'   {o:40s} {100*c/N:5.1f} % of all, {100*c/n:5.1f} % of {kind}')
    if '--leaves' in sys.argv:
        for o, c in leaf[kind].most_common(25):
            print(f'      {c:5d} {o}')
