import { Agent } from '../src/agent.js';
import { TargetProcess } from '../bench/tcp/target-process.js';
const sameHost = process.argv[2] ?? 'off';
const tbp = process.argv[3] ?? '0';
const target = new TargetProcess(`lat-tgt-${process.pid}`, 1 << 20, { same_host: 'auto', busy_poll_us: tbp });
const hello = await target.next();
const a = await Agent.create({ name: `lat-${process.pid}`, backends: [{ type: 'TCP', params: { same_host: sameHost, busy_poll_us: process.argv[4] ?? '0' } }] });
const { buffer } = a.alloc(1 << 20);
const base = a.registerMem(buffer).descs.at(0).addr;
a.loadRemoteMD(Buffer.from(hello.md, 'base64'));
await target.send({ cmd: 'load', md: Buffer.from(a.getLocalMD()).toString('base64') });
await a.makeConnection(`lat-tgt-${process.pid}`);
const req = a.createXferReq('WRITE', [{ addr: base, len: 4096 }], [{ addr: BigInt(hello.addr), len: 4096 }], `lat-tgt-${process.pid}`);
const post: number[] = [], total: number[] = [];
for (let i = 0; i < 20000; i++) {
  const t0 = process.hrtime.bigint();
  a.postXferReq(req);
  const t1 = process.hrtime.bigint();
  while (a.getXferStatus(req) !== 'DONE') {}
  const t2 = process.hrtime.bigint();
  if (i > 1000) { post.push(Number(t1 - t0) / 1000); total.push(Number(t2 - t0) / 1000); }
}
const med = (x: number[]) => x.sort((p, q) => p - q)[x.length >> 1]!.toFixed(1);
console.log(`same_host=${sameHost} target busy_poll=${tbp}: post ${med(post)} us, total ${med(total)} us`);
req.release();
await a.close();
await target.quit();
