// Self time of the top functions (name, file:line) between FROM and TO seconds of each profile,
// and each one's nearest caller outside node: internals. Usage: node prof-top.mjs FROM TO N DIR/*.cpuprofile
import fs from 'node:fs';
const [from, to, n] = process.argv.slice(2, 5).map(Number);
const self = new Map(),
  viaLib = new Map();
for (const file of process.argv.slice(5)) {
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
    const f = byId.get(s).callFrame;
    if (f.functionName === '(idle)') return;
    const k = name(f);
    self.set(k, (self.get(k) ?? 0) + p.timeDeltas[i]);
    let x = parent.get(s);
    while (x !== undefined && /^node:|^$/.test(byId.get(x).callFrame.url)) x = parent.get(x);
    const c = x === undefined ? '(root)' : name(byId.get(x).callFrame);
    const m = viaLib.get(k) ?? new Map();
    m.set(c, (m.get(c) ?? 0) + p.timeDeltas[i]);
    viaLib.set(k, m);
  });
}
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, n)) {
  const callers = [...viaLib.get(k)]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 2)
    .map(([c, u]) => `${c} ${(u / 1000).toFixed(0)}`)
    .join('; ');
  console.log(`${(v / 1000).toFixed(0).padStart(6)} ms  ${k}   <- ${callers}`);
}
