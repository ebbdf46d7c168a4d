// Samples in window whose innermost owner-by-caller is the gossip plugin: group by innermost plugin function (inclusive of callees not owned elsewhere)
import fs from 'node:fs';
const [from, to, agents] = process.argv.slice(2, 5).map(Number);
const pat = new RegExp(process.env.PAT ?? 'plugins/gossip/');
const by = new Map();
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
    ms += interval;
    // innermost frame in plugin + the leaf
    let key;
    const leaf = byId.get(id).callFrame;
    for (let x = id; x !== undefined; x = parent.get(x)) {
      const f = byId.get(x).callFrame;
      if (pat.test(f.url)) {
        key = `${f.functionName} ${f.url.replace(/.*\//, '')}:${f.lineNumber}`;
        break;
      }
    }
    if (!key) continue;
    const lk = `${leaf.functionName} ${leaf.url.replace(/.*node_modules\//, '').replace(/.*\//, '')}`;
    const k = key + '  <- leaf ' + (process.env.LEAF ? lk : '');
    by.set(k, (by.get(k) ?? 0) + interval);
  }
}
let sum = 0;
for (const v of by.values()) sum += v;
console.log(
  `total ${(ms / agents).toFixed(1)} ms/agent, under pattern ${(sum / agents).toFixed(1)}`,
);
for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 40)))
  console.log((v / agents).toFixed(2).padStart(7), k);
