// Shares of the workers' main-thread CPU (V8 .cpuprofile files, idle samples left out) by owner.
// Each sample goes to the innermost frame of its stack that matches an owner (exclusive: the
// shares add up), and is also counted for every owner anywhere on its stack (inclusive);
// "by caller" gives node's own frames (events, timers, sockets) to the innermost library
// or plugin frame above them instead.
// Copied from ../../2026-12-05-dlib/profile-owners.mjs, with an mDNS owner and the time in ms.
// Windowed (this stop): only samples FROM..TO seconds after each profile's start, in busy ms.
// Usage: node prof-window.mjs FROM TO DIR/*.cpuprofile
import fs from 'node:fs';

const owners = [
  ['module loading (start-up)', /node:internal\/modules\//],
  [
    'mdns (multicast-dns, dns-packet, lan-discovery)',
    /multicast-dns\/|dns-packet\/|plugins\/mdns\//,
  ],
  ['signature verification (records)', /verifyOneShot|hashAndVerify/],
  ['metadata load (TCP backend addPeer)', /loadRemoteConnInfo/],
  ['noise handshake', /performHandshake(Initiator|Responder)|generateX25519|diffieHellman|hkdf/],
  ['pnet handshake', /^protect .*private-network/],
  ['peer store', /@libp2p\/peer-store\//],
  ['multistream-select', /@libp2p\/multistream-select\//],
  [
    'dial queue, upgrader, connection manager',
    /libp2p\/dist\/src\/(connection-manager|upgrader|connection\.js|transport-manager|registrar|libp2p\.js)/,
  ],
  ['noise transport (ChaCha20-Poly1305, framing)', /@libp2p\/noise\/|chacha20poly1305/],
  ['pnet read/write (XSalsa20, meter, coalescing)', /private-network/],
  ['yamux', /@libp2p\/yamux\//],
  [
    'stream plumbing (@libp2p/utils, uint8arraylist)',
    /@libp2p\/utils\/|uint8arraylist|it-queue|race-signal|main-event/,
  ],
  ['mesh transport', /plugins\/gossip\/mesh-transport/],
  ['mesh frames (protobuf)', /mesh-wire|protobufjs/],
  ['membership and gossip plugin', /plugins\/gossip\//],
  ['seeds', /plugins\/seeds\//],
  ['tcp transport (@libp2p/tcp)', /@libp2p\/tcp\//],
  ['socket writes (syscall)', /^writeBuffer|^writev/],
  ['GC', /garbage collector/],
  ['node internals (events, timers, sockets, abort signals)', /^[^ ]* node:/],
];

const [from, to] = process.argv.slice(2, 4).map(Number);
const excl = new Map(),
  incl = new Map();
const NODE = owners.at(-1)[0];
let totalUs = 0;
for (const file of process.argv.slice(4)) {
  const p = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const memo = new Map();
  const classify = (id) => {
    if (memo.has(id)) return memo.get(id);
    let first;
    const seen = new Set();
    for (let x = id; x !== undefined; x = parent.get(x)) {
      const f = byId.get(x).callFrame;
      const key = `${f.functionName} ${f.url.replace(/.*node_modules\//, '')}`;
      const o = owners.find(([, re]) => re.test(key));
      if (!o) continue;
      first ??= o[0];
      seen.add(o[0]);
    }
    const v = { first: first ?? 'other', seen };
    memo.set(id, v);
    return v;
  };
  let t = 0;
  p.samples.forEach((s, i) => {
    const d = p.timeDeltas[i];
    t += d;
    if (t < from * 1e6 || t >= to * 1e6) return;
    if (byId.get(s).callFrame.functionName === '(idle)') return;
    totalUs += d;
    const { first, seen } = classify(s);
    excl.set(first, (excl.get(first) ?? 0) + d);
    for (const o of seen) incl.set(o, (incl.get(o) ?? 0) + d);
  });
}
console.log(`seconds ${from}-${to}: busy ${(totalUs / 1000).toFixed(0)} ms (all profiles)`);
console.log('exclusive ms  inclusive ms  owner');
for (const [o] of [...excl].sort((a, b) => b[1] - a[1]))
  console.log(
    `${(excl.get(o) / 1000).toFixed(0).padStart(8)}  ${((incl.get(o) ?? 0) / 1000).toFixed(0).padStart(12)}  ${o}`,
  );
