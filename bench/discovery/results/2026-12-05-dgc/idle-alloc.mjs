// What a converged cluster's agents allocate at rest, by call site: N agents in this process
// (gossip over a seed on 127.0.0.1, the TCP backend), and once every agent has loaded every
// other, V8's sampling heap profiler (collected objects included) for S seconds.
// Usage: node idle-alloc.mjs TREE N S   (TREE: a built checkout, its dist/ is imported)
import { Session } from 'node:inspector';
import { createServer } from 'node:net';
const [tree, n = '48', secs = '10'] = process.argv.slice(2);
const { Agent } = await import(`${tree}/dist/src/agent.js`);
const { gossip, generateClusterKey } = await import(`${tree}/dist/plugins/gossip/index.js`);
const { seeds } = await import(`${tree}/dist/plugins/seeds/index.js`);
const port = await new Promise((r) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => r(port));
  });
});
const key = generateClusterKey();
const agents = [];
for (let i = 0; i < Number(n); i++) {
  const disc = gossip({
    cluster: 'idle-alloc',
    clusterKey: key,
    listen: [`/ip4/127.0.0.1/tcp/${i === 0 ? port : 0}`],
    sources: [seeds([`/ip4/127.0.0.1/tcp/${port}`], { retryMs: 100, maxRetryMs: 1000 })],
  });
  agents.push(
    await Agent.create({
      name: `a${i}`,
      backends: [{ type: 'TCP', params: { bind_addr: '127.0.0.1', port: '0' } }],
      discovery: disc,
    }),
  );
}
const deadline = Date.now() + 120_000;
while (!agents.every((a) => a.remoteAgents.length === agents.length - 1)) {
  if (Date.now() > deadline) throw new Error('no convergence in 120 s');
  await new Promise((r) => setTimeout(r, 200));
}
await new Promise((r) => setTimeout(r, 3000)); // the start's last frames
const session = new Session();
session.connect();
const post = (m, p) =>
  new Promise((res, rej) => session.post(m, p, (e, r) => (e ? rej(e) : res(r))));
await post('HeapProfiler.startSampling', {
  samplingInterval: 4096,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
const cpu0 = process.cpuUsage();
await new Promise((r) => setTimeout(r, Number(secs) * 1000));
const cpu = process.cpuUsage(cpu0);
const { profile } = await post('HeapProfiler.stopSampling', {});
let total = 0;
const by = new Map();
const walk = (node, path) => {
  const here = [...path, node.callFrame];
  if (node.selfSize) {
    total += node.selfSize;
    const own = [...here]
      .reverse()
      .find(
        (f) => /\/dist\/(plugins|src|backends)\//.test(f.url) && !f.url.includes('node_modules'),
      );
    const k = own
      ? `${own.functionName || '(anon)'} ${own.url.replace(/^.*\/dist\//, '')}`
      : '(none of ours)';
    by.set(k, (by.get(k) ?? 0) + node.selfSize);
  }
  for (const c of node.children) walk(c, here);
};
walk(profile.head, []);
const perAgentS = (b) => b / Number(n) / Number(secs);
console.log(
  `${tree}: ${n} agents at rest for ${secs} s: ${(perAgentS(total) / 1024).toFixed(1)} KiB allocated per agent per second, CPU ${((cpu.user + cpu.system) / Number(n) / Number(secs)).toFixed(0)} µs per agent per second`,
);
for (const [k, b] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 8))
  console.log(`  ${(perAgentS(b) / 1024).toFixed(1).padStart(7)} KiB/agent/s  ${k}`);
await Promise.all(agents.map((a) => a.close()));
process.exit(0);
