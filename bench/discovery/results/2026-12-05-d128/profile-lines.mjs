import fs from 'node:fs';
const [fn, ...files] = process.argv.slice(2);
const lines = new Map();
let total = 0,
  self = 0;
for (const f of files) {
  const p = JSON.parse(fs.readFileSync(f, 'utf8'));
  for (const n of p.nodes) {
    if (n.callFrame.functionName !== fn) continue;
    self += n.hitCount ?? 0;
    for (const t of n.positionTicks ?? []) lines.set(t.line, (lines.get(t.line) ?? 0) + t.ticks);
    // children
  }
  total += p.samples.length;
}
console.log('self samples', self, 'of', total);
for (const [l, c] of [...lines].sort((a, b) => b[1] - a[1]).slice(0, 10)) console.log(l, c);
