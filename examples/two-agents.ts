/**
 * Two agents move data and say what they did: a target registers memory and
 * publishes its metadata; an initiator loads it, WRITEs 64 MiB with a
 * notification, READs it back and verifies every byte.
 *
 * Run: npm run demo    (BACKEND=UCX npm run demo for another backend)
 */
import { createHash } from 'node:crypto';

import { Agent } from '../src/index.js';

const backend = process.env.BACKEND ?? 'TCP';
const MiB = 1024 * 1024;
const SIZE = 64 * MiB;
const hash = (b: Uint8Array) => createHash('sha256').update(b).digest('hex').slice(0, 16);

const target = await Agent.create({ name: 'decode-0', backends: [backend] });
const initiator = await Agent.create({ name: 'prefill-0', backends: [backend] });
console.log(`agents '${target.name}' and '${initiator.name}' created with the ${backend} backend`);

const dst = target.alloc(SIZE);
const dstReg = target.registerMem(dst.buffer);
const src = initiator.alloc(SIZE);
for (let i = 0; i < SIZE; i += 4096) src.buffer.writeUInt32LE((i * 2654435761) >>> 0, i);
const srcReg = initiator.registerMem(src.buffer);
console.log(`registered ${SIZE / MiB} MiB on each side`);

const md = target.getLocalMD();
console.log(
  `'${initiator.name}' loaded ${md.length} bytes of metadata: peer '${initiator.loadRemoteMD(md)}'`,
);

const notified = new Promise<string>((resolve) =>
  target.once('notif', (from, msg) =>
    resolve(`'${Buffer.from(msg).toString()}' from '${from}', data hash ${hash(dst.buffer)}`),
  ),
);
let t0 = performance.now();
await initiator.makeConnection(target.name);
console.log(
  `connected to '${target.name}' in ${(performance.now() - t0).toFixed(1)} ms (makeConnection)`,
);
t0 = performance.now();
await initiator.write(srcReg.descs, dstReg.descs, target.name, { notif: 'req-1:done' });
let ms = performance.now() - t0;
console.log(
  `WRITE ${SIZE / MiB} MiB in ${ms.toFixed(1)} ms (${(SIZE / ms / 1e6).toFixed(2)} GB/s)`,
);
console.log(`target got notification ${await notified}; source hash ${hash(src.buffer)}`);

src.buffer.fill(0);
t0 = performance.now();
await initiator.read(srcReg.descs, dstReg.descs, target.name);
ms = performance.now() - t0;
console.log(`READ ${SIZE / MiB} MiB in ${ms.toFixed(1)} ms (${(SIZE / ms / 1e6).toFixed(2)} GB/s)`);
const ok = Buffer.compare(src.buffer, dst.buffer) === 0;
console.log(ok ? 'verified: every byte read back matches' : 'MISMATCH: the bytes read back differ');

await initiator.close();
await target.close();
process.exitCode = ok ? 0 : 1;
