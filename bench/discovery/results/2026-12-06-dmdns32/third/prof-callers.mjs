// Inclusive ms of samples (FROM..TO s) whose stack has a frame matching RE, by the nearest frame
// outside RE's package above it (the caller into it). Usage: node prof-callers.mjs FROM TO RE N DIR/*.cpuprofile
import fs from 'node:fs';
const [from, to] = process.argv.slice(2, 4).map(Number);
const re = new RegExp(process.argv[4]);
const n = Number(process.argv[5]);
const by = new Map();
let total = 0;
for (const file of process.argv.slice(6)) {
  const p = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const parent = new Map();
  for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  const name = (f) =>
    `${f.functionName || '(anon)'} ${f.url
      .replace(/.*node_modules\//, '')
      .replace(/.*wt-[^/]*\//, '')
      .replace(/.*main-before\//, '')}:${f.lineNumber + 1}`;
  let t = 0;
  p.samples.forEach((s, i) => {
    t += p.timeDeltas[i];
    if (t < from * 1e6 || t >= to * 1e6) return;
    let x = s,
      outer;
    for (; x !== undefined; x = parent.get(x)) if (re.test(name(byId.get(x).callFrame))) outer = x;
    if (outer === undefined) return;
    total += p.timeDeltas[i];
    // the chain of 3 frames above the outermost match
    const chain = [];
    for (let y = parent.get(outer); y !== undefined && chain.length < 3; y = parent.get(y))
      chain.push(name(byId.get(y).callFrame));
    const k = chain.join(' < ');
    by.set(k, (by.get(k) ?? 0) + p.timeDeltas[i]);
  });
}
console.log(`matching ${(total / 1000).toFixed(0)} ms`);
for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, n))
  console.log(`${(v / 1000).toFixed(0).padStart(6)}  ${k}`);
