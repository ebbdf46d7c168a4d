// Summarizes alloc-prof.mjs's .heapprofile files: bytes allocated (sampled, collected objects
// included) by function (self), by the innermost frame in our own code (plugins/, src/,
// backends/), and by leaf + two callers.
import { readFileSync } from 'node:fs';
const files = process.argv.slice(2);
const self = new Map(),
  ours = new Map(),
  stacks = new Map();
let total = 0;
const short = (f) =>
  `${f.functionName || '(anon)'} ${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/\/work\/[^/]+\//, '')}:${f.lineNumber + 1}`;
const add = (m, k, v) => m.set(k, (m.get(k) ?? 0) + v);
for (const file of files) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const walk = (n, path) => {
    const here = [...path, n.callFrame];
    if (n.selfSize) {
      total += n.selfSize;
      add(self, short(n.callFrame), n.selfSize);
      const own = [...here]
        .reverse()
        .find((f) => /\/(plugins|src|backends)\//.test(f.url) && !/node_modules/.test(f.url));
      add(ours, own ? short(own) : '(none of ours)', n.selfSize);
      add(stacks, here.slice(-3).reverse().map(short).join(' < '), n.selfSize);
    }
    for (const c of n.children) walk(c, here);
  };
  walk(p.head, []);
}
const show = (title, m, k = 30) => {
  console.log(`-- ${title}`);
  for (const [name, b] of [...m].sort((a, b) => b[1] - a[1]).slice(0, k))
    console.log(
      `${(b / 1e6).toFixed(1).padStart(8)} MB ${((100 * b) / total).toFixed(1).padStart(5)} %  ${name}`,
    );
};
console.log(`${files.length} profiles, ${(total / 1e6).toFixed(0)} MB sampled in all`);
show('by function (self)', self);
show('by innermost frame of our own code', ours);
show('by leaf < caller < caller', stacks, 40);
