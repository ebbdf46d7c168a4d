// Inclusive time of named functions (anywhere on the stack, counted once per sample) between FROM
// and TO seconds of each profile. Usage: node prof-incl.mjs FROM TO NAME,NAME,... DIR/*.cpuprofile
import fs from 'node:fs';
const [from, to] = process.argv.slice(2, 4).map(Number);
const names = process.argv[4].split(',');
const incl = new Map(names.map((n) => [n, 0]));
for (const file of process.argv.slice(5)) {
  const p = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  let t = 0;
  p.samples.forEach((s, i) => {
    const d = p.timeDeltas[i];
    t += d;
    if (t < from * 1e6 || t >= to * 1e6) return;
    const seen = new Set();
    for (let x = s; x !== undefined; x = parent.get(x))
      seen.add(byId.get(x).callFrame.functionName);
    for (const n of names) if (seen.has(n)) incl.set(n, incl.get(n) + d);
  });
}
for (const [n, v] of incl) console.log(`${(v / 1000).toFixed(0).padStart(6)} ms  ${n}`);
