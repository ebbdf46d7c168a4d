import { readFileSync } from 'node:fs';
const main = () =>
  Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
const period = Number(process.argv[2]);
const t = setInterval(() => {}, period);
await new Promise((r) => setTimeout(r, 1000));
const m0 = main();
await new Promise((r) => setTimeout(r, 5000));
console.log(
  `interval ${period} ms: main thread ${(((main() - m0) / 5) * 1000).toFixed(0)} µs/s, ${(((main() - m0) / (5000 / period)) * 1000).toFixed(1)} µs per wake`,
);
clearInterval(t);
