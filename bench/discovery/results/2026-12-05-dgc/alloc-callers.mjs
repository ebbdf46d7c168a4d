import { readFileSync } from 'node:fs';
const [re, depth, ...files] = process.argv.slice(2);
const rx = new RegExp(re);
const m = new Map();
let total = 0;
const short = (f) =>
  `${f.functionName || '(anon)'} ${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/\/work\/[^/]+\//, '')}:${f.lineNumber + 1}`;
for (const file of files) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const walk = (n, path, sub) => {
    const here = [...path, n.callFrame];
    let s = sub;
    const hit = rx.test(short(n.callFrame));
    let size = n.selfSize;
    // inclusive: attribute every allocation under the first matching frame to the callers of that frame
    if (hit && sub === undefined)
      s = here
        .slice(Math.max(0, here.length - 1 - Number(depth)))
        .map(short)
        .reverse()
        .join('\n    < ');
    if (s !== undefined && n.selfSize) {
      m.set(s, (m.get(s) ?? 0) + n.selfSize);
      total += n.selfSize;
    }
    for (const c of n.children) walk(c, here, s);
  };
  walk(p.head, [], undefined);
}
console.log('total MB under matching frames', (total / 1e6).toFixed(1));
for (const [k, b] of [...m].sort((a, b) => b[1] - a[1]).slice(0, 10))
  console.log((b / 1e6).toFixed(1), 'MB\n    ' + k);
