// Per second of each worker's CPU profile (from the profile's start, about the process's spawn):
// CPU ms on the main thread (idle left out), and of it the mDNS code's (inclusive: multicast-dns,
// dns-packet, plugins/mdns, and what they call). Usage: node prof-seconds.mjs DIR/*.cpuprofile
import fs from 'node:fs';
const mdns = /multicast-dns\/|dns-packet\/|plugins\/mdns\//;
const sec = new Map();
for (const file of process.argv.slice(2)) {
  const p = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const isMdns = new Map();
  const mdnsOf = (id) => {
    if (isMdns.has(id)) return isMdns.get(id);
    const f = byId.get(id).callFrame;
    const pid = parent.get(id);
    const v = mdns.test(f.url) || (pid !== undefined && mdnsOf(pid));
    isMdns.set(id, v);
    return v;
  };
  let t = 0;
  p.samples.forEach((s, i) => {
    const d = p.timeDeltas[i];
    t += d;
    if (byId.get(s).callFrame.functionName === '(idle)') return;
    const k = Math.floor(t / 1e6);
    const e = sec.get(k) ?? { cpu: 0, mdns: 0 };
    e.cpu += d / 1000;
    if (mdnsOf(s)) e.mdns += d / 1000;
    sec.set(k, e);
  });
}
console.log('second | CPU ms (all workers) | mDNS ms');
for (const k of [...sec.keys()].sort((a, b) => a - b))
  console.log(`${k} | ${sec.get(k).cpu.toFixed(0)} | ${sec.get(k).mdns.toFixed(0)}`);
