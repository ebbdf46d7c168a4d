// Self time by function of the samples whose stack passes through FN (a V8 .cpuprofile),
// and the share of each function directly called by FN (inclusive).
// Usage: node profile-under.mjs FN FILE.cpuprofile...
import { readFileSync } from 'node:fs';
const [fn, ...files] = process.argv.slice(2);
const self = new Map(),
  child = new Map();
let total = 0,
  under = 0,
  ms = 0;
for (const f of files) {
  const p = JSON.parse(readFileSync(f, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (n) =>
    `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    const stack = [];
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) stack.push(byId.get(cur));
    const k = stack.findIndex((n) => n.callFrame.functionName === fn);
    if (k < 0) return;
    under += dt;
    self.set(name(stack[0]), (self.get(name(stack[0])) ?? 0) + dt);
    const c = k > 0 ? name(stack[k - 1]) : '(self)';
    child.set(c, (child.get(c) ?? 0) + dt);
  });
}
const show = (m) =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 25)
    .forEach(([k, v]) =>
      console.log(
        `${(v / 1000).toFixed(1).padStart(8)} ms ${((100 * v) / under).toFixed(1).padStart(5)} %  ${k}`,
      ),
    );
console.log(`${fn}: ${(under / 1000).toFixed(1)} ms of ${(total / 1000).toFixed(1)} ms sampled`);
console.log('-- called directly by it (inclusive)');
show(child);
console.log('-- self time under it');
show(self);
