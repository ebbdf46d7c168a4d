import fs from 'node:fs';
const self = new Map();
let total = 0;
for (const f of process.argv.slice(2)) {
  const p = JSON.parse(fs.readFileSync(f, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const counts = new Map();
  for (const s of p.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  for (const [id, c] of counts) {
    const n = byId.get(id);
    const cf = n.callFrame;
    if (cf.functionName === '(idle)' || (cf.functionName === '(program)' && false)) continue;
    if (cf.functionName === '(idle)') continue;
    const key = `${cf.functionName || '(anon)'} ${cf.url.replace(/.*node_modules\//, '').replace(/.*wt-d128\//, '')}:${cf.lineNumber}`;
    self.set(key, (self.get(key) ?? 0) + c);
    total += c;
  }
}
const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 45);
for (const [k, c] of top) console.log(((100 * c) / total).toFixed(2).padStart(6), k);
