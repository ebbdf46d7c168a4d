// Self time of the samples under mDNS code (multicast-dns, dns-packet, plugins/mdns on the stack)
// between FROM and TO seconds of each profile, by function and by the mDNS frame nearest the top.
// Usage: node prof-mdns-top.mjs FROM TO DIR/*.cpuprofile
import fs from 'node:fs';
const [from, to] = process.argv.slice(2, 4).map(Number);
const mdns = /multicast-dns\/|dns-packet\/|plugins\/mdns\//;
const self = new Map(),
  entry = new Map();
let total = 0;
for (const file of process.argv.slice(4)) {
  const p = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (f) =>
    `${f.functionName || '(anon)'} ${f.url.replace(/.*node_modules\//, '').replace(/.*\/(plugins|dist)\//, '$1/')}:${f.lineNumber}`;
  let t = 0;
  p.samples.forEach((s, i) => {
    const d = p.timeDeltas[i];
    t += d;
    if (t < from * 1e6 || t >= to * 1e6) return;
    let top;
    for (let x = s; x !== undefined; x = parent.get(x)) {
      const f = byId.get(x).callFrame;
      if (mdns.test(f.url)) {
        top = name(f);
      }
    }
    if (!top) return;
    total += d;
    const k = name(byId.get(s).callFrame);
    self.set(k, (self.get(k) ?? 0) + d);
    entry.set(top, (entry.get(top) ?? 0) + d);
  });
}
console.log(`mDNS samples ${from}-${to} s: ${(total / 1000).toFixed(0)} ms`);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25))
  console.log(`${(v / 1000).toFixed(0).padStart(6)} ms self  ${k}`);
console.log('--- by outermost mDNS frame');
for (const [k, v] of [...entry].sort((a, b) => b[1] - a[1]).slice(0, 12))
  console.log(`${(v / 1000).toFixed(0).padStart(6)} ms  ${k}`);
