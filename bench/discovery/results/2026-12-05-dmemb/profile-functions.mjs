// Self and inclusive shares of main-thread samples per function whose "name url:line" matches a pattern (idle left out).
// Usage: node profile-functions.mjs PATTERN DIR/*.cpuprofile
import fs from 'node:fs';
const [re, ...files] = process.argv.slice(2);
const pat = new RegExp(re);
const self = new Map(),
  incl = new Map();
let total = 0;
for (const file of files) {
  const p = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const counts = new Map();
  for (const s of p.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  for (const [id, c] of counts) {
    if (byId.get(id).callFrame.functionName === '(idle)') continue;
    total += c;
    const seen = new Set();
    let first = true;
    for (let x = id; x !== undefined; x = parent.get(x)) {
      const f = byId.get(x).callFrame;
      const key = `${f.functionName || '(anon)'} ${f.url.replace(/.*\/(wt-[^/]+|main|dmemb-[^/]+|node_modules)\//, '')}:${f.lineNumber}`;
      if (first) {
        self.set(key, (self.get(key) ?? 0) + c);
        first = false;
      }
      if (!seen.has(key)) {
        seen.add(key);
        incl.set(key, (incl.get(key) ?? 0) + c);
      }
    }
  }
}
const pct = (n) => ((100 * n) / total).toFixed(2).padStart(6);
console.log('total', total);
console.log('--- self');
for (const [k, v] of [...self]
  .filter(([k]) => pat.test(k))
  .sort((a, b) => b[1] - a[1])
  .slice(0, 40))
  console.log(pct(v), k);
console.log('--- inclusive');
for (const [k, v] of [...incl]
  .filter(([k]) => pat.test(k))
  .sort((a, b) => b[1] - a[1])
  .slice(0, 50))
  console.log(pct(v), k);
