/**
 * CPU per refused dial, both ends, of one tree's control node: a node whose
 * bound is full (admitInbound answers false) in a child process, and a dialer
 * here that dials its address (no /p2p/, as a seed list gives it) N times.
 * Usage: npx tsx refusal-cost.ts ROOT [N]   (ROOT: a worktree with node_modules)
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';

const root = process.argv[2]!;
const { createControlNode } = await import(`${root}/plugins/libp2p-node/index.ts`);
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

if (process.argv[3] === 'full-node') {
  const key = new Uint8Array(Buffer.from(process.argv[4]!, 'hex'));
  let asked = 0;
  const node = await createControlNode({
    listen: ['/ip4/127.0.0.1/tcp/0'],
    clusterKey: key,
    identify: false,
    pubsub: false,
    admitInbound: () => (asked++, false),
  });
  process.send!({ addr: node.getMultiaddrs()[0].decapsulateCode(421).toString() });
  process.on('message', () => process.send!({ cpu: cpuMs(), asked }));
  process.on('disconnect', () => process.exit(0));
} else {
  const n = Number(process.argv[3] ?? 300);
  const keyHex = randomBytes(32).toString('hex');
  const child = fork(process.argv[1]!, [root, 'full-node', keyHex], { execArgv: process.execArgv });
  const next = () => new Promise<any>((r) => child.once('message', r));
  const { addr } = await next();
  const { multiaddr } = await import(
    `${root}/node_modules/@multiformats/multiaddr/dist/src/index.js`
  );
  const dialer = await createControlNode({
    listen: ['/ip4/127.0.0.1/tcp/0'],
    clusterKey: new Uint8Array(Buffer.from(keyHex, 'hex')),
    identify: false,
    pubsub: false,
  });
  const ma = multiaddr(addr);
  const dialAll = async (k: number) => {
    for (let i = 0; i < k; i++)
      await dialer.dial(ma).then(
        () => process.exit(3),
        () => {},
      );
  };
  await dialAll(30); // warm-up
  child.send('x');
  const s0 = await next();
  const c0 = cpuMs();
  const t0 = performance.now();
  await dialAll(n);
  const wall = performance.now() - t0;
  const c1 = cpuMs();
  child.send('x');
  const s1 = await next();
  console.log(
    `${root}: ${n} refused dials: dialer ${((c1 - c0) / n).toFixed(3)} ms CPU each, ` +
      `full node ${((s1.cpu - s0.cpu) / n).toFixed(3)} ms CPU each, wall ${(wall / n).toFixed(2)} ms each, ` +
      `asked ${s1.asked - s0.asked}`,
  );
  child.disconnect();
  await dialer.stop();
  process.exit(0);
}
