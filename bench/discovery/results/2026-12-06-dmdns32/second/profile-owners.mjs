// Shares of the workers' main-thread CPU (V8 .cpuprofile files, idle samples left out) by owner.
// Each sample goes to the innermost frame of its stack that matches an owner (exclusive: the
// shares add up), and is also counted for every owner anywhere on its stack (inclusive);
// "by caller" gives node's own frames (events, timers, sockets) to the innermost library
// or plugin frame above them instead.
// Copied from ../../2026-12-05-dlib/profile-owners.mjs, with an mDNS owner and the time in ms.
// Usage: node profile-owners.mjs DIR/*.cpuprofile
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
const excl = new Map(),
  incl = new Map(),
  byCaller = new Map();
const NODE = owners.at(-1)[0];
let total = 0,
  totalUs = 0;
for (const file of process.argv.slice(2)) {
  const p = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const counts = new Map();
  p.timeDeltas.forEach((d, i) => {
    if (byId.get(p.samples[i]).callFrame.functionName !== '(idle)') totalUs += d;
  });
  for (const s of p.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  for (const [id, c] of counts) {
    if (byId.get(id).callFrame.functionName === '(idle)') continue;
    total += c;
    let first, caller;
    const seen = new Set();
    for (let x = id; x !== undefined; x = parent.get(x)) {
      const f = byId.get(x).callFrame;
      const key = `${f.functionName} ${f.url.replace(/.*node_modules\//, '')}`;
      const o = owners.find(([, re]) => re.test(key));
      if (!o) continue;
      first ??= o[0];
      if (o[0] !== NODE) caller ??= o[0];
      seen.add(o[0]);
    }
    first ??= 'other';
    caller ??= first;
    excl.set(first, (excl.get(first) ?? 0) + c);
    byCaller.set(caller, (byCaller.get(caller) ?? 0) + c);
    for (const o of seen) incl.set(o, (incl.get(o) ?? 0) + c);
  }
}
const pct = (n) => `${((100 * (n ?? 0)) / total).toFixed(1).padStart(5)} %`;
console.log(
  `samples ${total} (idle left out), ${(totalUs / 1000).toFixed(0)} ms\nexclusive  by caller  inclusive  owner`,
);
for (const [name] of [...owners, ['other']].sort(
  (a, b) => (excl.get(b[0]) ?? 0) - (excl.get(a[0]) ?? 0),
))
  console.log(
    `${pct(excl.get(name))}    ${pct(byCaller.get(name))}    ${pct(incl.get(name))}    ${name}`,
  );
