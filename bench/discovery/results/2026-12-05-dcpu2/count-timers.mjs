// Diagnostic preload: counts timers, AbortSignal.timeout/any and EventTarget listeners by call site.
import { writeFileSync } from 'node:fs';
const counts = new Map();
const t0 = Date.now();
function site(kind) {
  const s = new Error().stack
    .split('\n')
    .slice(3, 6)
    .map((l) =>
      l
        .trim()
        .replace(/^at /, '')
        .replace(/file:\/\/\/work\/[^/]+\/(node_modules\/)?/g, '')
        .replace(/\/work\/main\/node_modules\//g, ''),
    )
    .join(' < ');
  const k = kind + ' ' + s;
  counts.set(k, (counts.get(k) ?? 0) + 1);
}
const wrap = (obj, name, kind) => {
  const orig = obj[name];
  obj[name] = function (...a) {
    site(kind);
    return orig.apply(this, a);
  };
};
wrap(globalThis, 'setTimeout', 'setTimeout');
wrap(globalThis, 'setInterval', 'setInterval');
wrap(globalThis, 'setImmediate', 'setImmediate');
wrap(AbortSignal, 'timeout', 'AbortSignal.timeout');
wrap(AbortSignal, 'any', 'AbortSignal.any');
wrap(EventTarget.prototype, 'addEventListener', 'addEventListener');
const origAC = globalThis.AbortController;
globalThis.AbortController = class extends origAC {
  constructor() {
    super();
    site('new AbortController');
  }
};
const dump = () => {
  const rows = [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 80)
    .map(([k, v]) => `${v}\t${k}`);
  writeFileSync(
    `/tmp/dcpu/timers-${process.pid}.txt`,
    `elapsed ${Date.now() - t0} ms\n` + rows.join('\n') + '\n',
  );
};
setInterval(dump, 2000).unref();
