"""perf script (-F pid,tid,time,ip,sym,dso, callchains) of the scale bench's
workers -> CPU samples by thread kind and by owner (innermost matching frame),
within a window of seconds after each worker's first sample."""
import re, sys, collections
path, lo, hi = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
OWNERS = [  # (owner, regex on a frame), innermost match wins
  ('verify (ed25519)', r'ED25519|ed25519|\bge_|\bfe_|x25519_sc|sc_reduce|sc_muladd|verifyOneShot|verifyUntimed'),
  ('sha256', r'sha256_block|SHA256'),
  ('gc', r'v8::internal::(Scavenger|ScavengeJob|Heap::|MarkCompact|ConcurrentMarking|Sweeper|MinorMark|ArrayBufferSweeper|IncrementalMarking|GCTracer|MemoryAllocator|PagedSpace|LocalHeap)|Builtins_RecordWrite'),
  ('compiler', r'v8::internal::(compiler|maglev|baseline|Compiler|OptimizingCompile|Parser|Scanner|Zone)|v8::internal::wasm'),
  ('chacha/poly (noise)', r'chacha|ChaCha|poly1305|Poly1305'),
  ('x25519/hkdf (handshakes)', r'x25519|X25519|HKDF|hkdf|EVP_PKEY_derive|DH_'),
  ('tcp engine', r'nixl::tcp'),
  ('pnet (xsalsa20)', r'private-network|xsalsa|salsa|xorInChunks'),
  ('noise js', r'@chainsafe/libp2p-noise|libp2p-node/noise'),
  ('yamux', r'@libp2p/yamux|window-updates'),
  ('stream plumbing', r'abstract-message-stream|abstract-stream|stream-utils|it-queue|it-pushable|@libp2p/utils|length-prefix|uint8arraylist|p-defer|race-signal|main-event'),
  ('protobuf (mesh frames)', r'mesh-wire|protobufjs|/proto/|mesh_pb|encodeFrame|decodeFrame'),
  ('metadata load (agent)', r'loadRemoteMD|loadRemoteConnInfo|remote-section|decodeMetadata|src/metadata|tcp-backend'),
  ('membership', r'gossip/membership'),
  ('mesh transport', r'gossip/mesh-transport'),
  ('gossip plugin', r'gossip/index|gossip/limits|gossip/loop-lag'),
  ('libp2p other', r'@libp2p|libp2p|multiformats|multiaddr|@chainsafe|peer-store|datastore'),
  ('bench worker', r'bench/discovery'),
  ('node internals (timers, events, streams, net)', r'node:internal|node:events|node:net|node:stream|node:timers|uv_|libuv|epoll|node::'),
  ('kernel', r'\[kernel\.kallsyms\]'),
]
OWN = [(n, re.compile(r)) for n, r in OWNERS]
t0 = {}
by = collections.Counter(); byth = collections.Counter(); tot = collections.Counter()
def flush(s):
  if not s: return
  pid, tid, t, frames = s
  if pid not in t0: t0[pid] = t
  rel = t - t0[pid]
  if rel < lo or rel > hi: return
  kind = 'main' if pid == tid else 'other'
  owner = 'unattributed'
  for f in frames:  # leaf first
    for n, r in OWN:
      if r.search(f): owner = n; break
    else: continue
    break
  by[(kind, owner)] += 1; tot[kind] += 1
cur = None
for line in open(path, errors='replace'):
  m = re.match(r'\s*(\d+)/(\d+)\s+([\d.]+):', line)
  if m:
    flush(cur); cur = (int(m[1]), int(m[2]), float(m[3]), [])
  elif line.strip() and cur is not None:
    cur[3].append(line.strip())
flush(cur)
N = sum(tot.values())
print(f'samples {N} (main {tot["main"]}, other threads {tot["other"]}), window {lo}-{hi} s after each worker\'s first sample')
for kind in ('main', 'other'):
  print(f'-- {kind} threads: {100*tot[kind]/N:.1f} % of all')
  for (k, o), c in sorted(by.items(), key=lambda x: -x[1]):
    if k == kind and c / N >= 0.003: print(f'   {o:45s} {100*c/N:5.1f} %')
