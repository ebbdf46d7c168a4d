// Diagnostic preload (scale.ts --node-args "--import THIS"): every GC of a worker, by kind,
// with its main-thread pause (PerformanceObserver 'gc') and the heap used before and after
// (v8.GCProfiler, same order), and the times of the worker's last 'ready' line and its
// 'stats' line (the bench's "after ready" window). Writes /tmp/dgc/gc-<pid>.json at exit.
import { writeFileSync, mkdirSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
const profiler = new v8.GCProfiler();
profiler.start();
const entries = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    entries.push([
      Math.round(e.startTime),
      Math.round(e.duration * 1000),
      e.detail?.kind ?? e.kind,
    ]);
}).observe({ entryTypes: ['gc'] });
let readyAt = 0;
let statsAt = 0;
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, ...rest) => {
  const s = typeof chunk === 'string' ? chunk : '';
  if (s.includes('"ev":"ready"')) readyAt = performance.now();
  else if (s.includes('"ev":"stats"') && !statsAt) statsAt = performance.now();
  return write(chunk, ...rest);
};
process.on('exit', () => {
  const data = profiler.stop();
  const heaps = data.statistics.map((g) => [
    g.gcType,
    g.beforeGC.heapStatistics.usedHeapSize,
    g.afterGC.heapStatistics.usedHeapSize,
    Math.round(g.cost),
  ]);
  mkdirSync('/tmp/dgc', { recursive: true });
  writeFileSync(
    `/tmp/dgc/gc-${process.pid}.json`,
    JSON.stringify({ readyAt, statsAt, entries, heaps }),
  );
});
