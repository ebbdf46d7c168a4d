// The workers' main-thread samples by owner (as ../2026-12-05-dlib/profile-owners.mjs, "by caller"),
// only those between FROM and TO ms after each profile's start (a start's "after ready" window),
// in ms per agent (samples × their mean interval / AGENTS).
// Usage: node owners-window.mjs FROM_MS TO_MS AGENTS DIR/*.cpuprofile
import fs from 'node:fs';

const owners = [
  ['module loading (start-up)', /node:internal\/modules\//],
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
const [from, to, agents] = process.argv.slice(2, 5).map(Number);
const NODE = owners.at(-1)[0];
const byCaller = new Map();
const byBucket = new Map();
let total = 0;
let ms = 0;
for (const file of process.argv.slice(5)) {
  const p = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const interval = (p.endTime - p.startTime) / p.samples.length / 1000;
  let t = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] / 1000;
    if (t < from || t > to) continue;
    const id = p.samples[i];
    if (byId.get(id).callFrame.functionName === '(idle)') continue;
    total++;
    ms += interval;
    let first, caller;
    for (let x = id; x !== undefined; x = parent.get(x)) {
      const f = byId.get(x).callFrame;
      const key = `${f.functionName} ${f.url.replace(/.*node_modules\//, '')}`;
      const o = owners.find(([, re]) => re.test(key));
      if (!o) continue;
      first ??= o[0];
      if (o[0] !== NODE) caller ??= o[0];
    }
    caller ??= first ?? 'other';
    byCaller.set(caller, (byCaller.get(caller) ?? 0) + interval);
    const b = Math.floor(t / 2000);
    const m = byBucket.get(b) ?? new Map();
    byBucket.set(b, m);
    m.set(caller, (m.get(caller) ?? 0) + interval);
    m.set('ALL', (m.get('ALL') ?? 0) + interval);
  }
}
console.log(
  `window ${from}-${to} ms: samples ${total}, ${(ms / agents).toFixed(1)} ms per agent (main threads)`,
);
console.log('ms/agent  share  owner (by caller)');
for (const [name, v] of [...byCaller].sort((a, b) => b[1] - a[1]))
  console.log(
    `${(v / agents).toFixed(1).padStart(7)}  ${((100 * v) / ms).toFixed(1).padStart(5)} %  ${name}`,
  );

const groups = {
  conn: /dial queue|noise handshake|peer store|multistream|pnet handshake|tcp transport/,
  frames:
    /stream plumbing|noise transport|yamux|pnet read|socket writes|mesh frames|mesh transport/,
  plugin: /membership|seeds/,
  load: /metadata load|signature/,
  gc: /GC/,
};
console.log('bucket(s) ALLms/agent ' + Object.keys(groups).join(' ') + ' other');
for (const [b, m] of [...byBucket].sort((a, b) => a[0] - b[0])) {
  const g = Object.fromEntries(Object.keys(groups).map((k) => [k, 0]));
  let other = 0;
  for (const [k, v] of m) {
    if (k === 'ALL') continue;
    const hit = Object.entries(groups).find(([, re]) => re.test(k));
    if (hit) g[hit[0]] += v;
    else other += v;
  }
  console.log(
    `${b * 2}-${b * 2 + 2}s ${(m.get('ALL') / agents).toFixed(1)} ` +
      Object.values(g)
        .map((v) => (v / agents).toFixed(1))
        .join(' ') +
      ' ' +
      (other / agents).toFixed(1),
  );
}
