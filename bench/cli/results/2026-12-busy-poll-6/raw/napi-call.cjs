const { W } = require('./build/Release/t.node');
const w = new W();
const N = 3e6;
function run(name, f) {
  let s = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) if (f(i)) s++;
  const t1 = process.hrtime.bigint();
  console.log(name, (Number(t1 - t0) / N).toFixed(1), 'ns');
  return s;
}
for (let r = 0; r < 4; r++) {
  run('instance', (i) => w.post(i, 1));
  run('fn+data ', (i) => w.postFast(i, 1));
}
