/**
 * How long a lost message takes to heal on a link busy with gossip and on a quiet one: the
 * membership test's chain x—a—b (degree 1) 300 times, each way. Usage:
 * npx tsx heal-time.ts DIR (a checkout: its bench/discovery/sim/network.ts and membership).
 * bh/qh: ms until b holds x's version 2 (busy / quiet); bd: digests by a and b in the 20 s
 * of gossip; qd: in the 20 s after it.
 */
const { SimNetwork } = await import(`${process.argv[2]}/bench/discovery/sim/network.ts`);
const OPTS = {
  degree: 4,
  maxLinks: 8,
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  suspicionMs: 5000,
  antiEntropyMs: 2000,
  batchMs: 0,
  minLinkAgeMs: 2000,
};
function lostOnLink(busyMs: number) {
  const net = new SimNetwork(10, { ...OPTS, degree: 1 });
  const [x, a, b] = ['x', 'a', 'b'].map((n) => net.add(n, new Uint8Array([1])));
  for (const m of [x, a, b]) m!.start();
  x!.linkUp('a');
  a!.linkUp('x');
  a!.linkUp('b');
  b!.linkUp('a');
  net.clock.run(3000);
  const digests = () => (a!.sentFor['anti-entropy'] ?? 0) + (b!.sentFor['anti-entropy'] ?? 0);
  const transport = (a as any).transport;
  const send = transport.send.bind(transport);
  let lost = 0;
  transport.send = (to: string, msg: any, o?: unknown) => {
    if (
      to === 'b' &&
      msg.kind === 'gossip' &&
      msg.records.some((r: any) => r.id === 'x' && r.version === 2) &&
      !lost++
    )
      return;
    send(to, msg, o);
  };
  const start = net.clock.now();
  const before = digests();
  x!.update(new Uint8Array([2]));
  let healedAt = Infinity;
  let busyDigests = 0;
  for (let t = 0; t < busyMs + 20_000; t += 100) {
    if (t < busyMs && t % 500 === 0) a!.update(new Uint8Array([3, t / 500]));
    net.clock.run(start + t + 100);
    if (healedAt === Infinity && b!.recordOf('x')?.version === 2) healedAt = t + 100;
    if (t + 100 === busyMs) busyDigests = digests() - before;
  }
  return { healedAt, busyDigests, quietDigests: digests() - before - busyDigests };
}
const agg: Record<string, number[]> = { bh: [], bd: [], qd: [], qh: [] };
for (let i = 0; i < 300; i++) {
  const b = lostOnLink(20000);
  const q = lostOnLink(0);
  agg.bh.push(b.healedAt);
  agg.bd.push(b.busyDigests);
  agg.qd.push(b.quietDigests);
  agg.qh.push(q.healedAt);
}
for (const [k, v] of Object.entries(agg))
  console.log(k, 'min', Math.min(...v), 'max', Math.max(...v));
const med = (v: number[]) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)];
const p99 = (v: number[]) => [...v].sort((p, q) => p - q)[Math.floor(v.length * 0.99)];
for (const [k, v] of Object.entries(agg)) console.log(k, 'median', med(v), 'p99', p99(v));
