/**
 * The bound on an agent's control-plane connections, seen from outside: a
 * seed in its own process takes in a crowd of joiners at once, and the
 * kernel's count of its established TCP connections (read from /proc every
 * few ms) never exceeds twice the mesh degree plus two; the joiners it had
 * no room for are referred to other members and still load everyone. And a
 * joiner whose seed is down at first keeps dialing until it comes up. And a
 * seed that is full when it is asked to relay probes to members that froze
 * (dials that hang in their handshakes) still stays within the bound, by its
 * own count of its sockets, established or connecting.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { afterEach, describe, expect, it } from 'vitest';

import { JsonLineChild, type JsonLineReply } from '../../testing/json-line-child.js';
import { TEST_CLUSTER_KEY, closeAll, startAgent, until, type TestAgent } from './helpers.js';

const MEMBER = fileURLToPath(new URL('./member-process.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The bound at the default degree (4): 2 × 4 + 2. */
const BOUND = 10;

const agents: TestAgent[] = [];
const children: JsonLineChild<JsonLineReply, { event: string; addr?: string }>[] = [];
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.close().catch(() => {})));
  await closeAll(agents.splice(0));
});

function member(cfg: object, what: string) {
  const child = new JsonLineChild<JsonLineReply, { event: string; addr?: string }>(
    MEMBER,
    what,
    {},
    {
      args: [JSON.stringify({ clusterKey: TEST_CLUSTER_KEY, graceMs: 10_000, ...cfg })],
      cwd: ROOT,
      ...(process.env.MEMBER_DEBUG ? { stderr: 'inherit' as const } : {}),
    },
  );
  children.push(child);
  return child;
}

/** Established TCP connections of a process, as the kernel lists them (its sockets' inodes in /proc/net/tcp). */
function establishedTcp(pid: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // (closed while we listed)
    }
  }
  // By inode: a read of the table while it changes can list a socket twice.
  const established = new Set<string>();
  for (const table of ['tcp', 'tcp6']) {
    const lines = readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1);
    for (const line of lines) {
      const f = line.trim().split(/\s+/);
      // st 01: ESTABLISHED; field 9: the inode.
      if (f[3] === '01' && inodes.has(f[9]!)) established.add(f[9]!);
    }
  }
  return established.size;
}

const knowsAll = (t: TestAgent, names: string[]) =>
  names.every((n) => n === t.agent.name || t.agent.checkRemoteMD(n));

describe('control-plane connection bound', { timeout: 120_000 }, () => {
  it('a seed taking in 24 joiners at once never holds more than the bound, and all of them load everyone', async () => {
    const seed = member({ name: 'seed' }, 'seed');
    const { addr } = await seed.nextEvent('ready', 60_000);
    const seedAddr = addr!.replace(/\/p2p\/.*$/, '');
    let peak = 0;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, establishedTcp(seed.pid));
      } catch {
        // (the process is gone: the test fails on its own)
      }
    }, 10);
    try {
      const names = Array.from({ length: 24 }, (_, i) => `j${i}`);
      agents.push(
        ...(await Promise.all(names.map((n) => startAgent(n, { seedAddrs: [seedAddr] })))),
      );
      const all = ['seed', ...names];
      await until(() => agents.every((t) => knowsAll(t, all)), 'every joiner to load all', 90_000);
      // Links settle (extras shed) after the start: sample a while longer.
      await new Promise((r) => setTimeout(r, 2000));
    } finally {
      clearInterval(sampler);
    }
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(BOUND);
    for (const t of agents) expect(t.errors).toEqual([]);
  });

  it('four seeds that dial each other and 28 joiners given all four: every agent loads every other', async () => {
    // The seeds' ports: taken by throwaway agents, then released.
    const probes = await Promise.all([0, 1, 2, 3].map((i) => startAgent(`port${i}`)));
    const seedAddrs = probes.map((t) => t.disc.getMultiaddrs()[0]!.replace(/\/p2p\/.*$/, ''));
    await closeAll(probes);
    const seedNames = ['s0', 's1', 's2', 's3'];
    const joinerNames = Array.from({ length: 28 }, (_, i) => `j${i}`);
    agents.push(
      ...(await Promise.all([
        ...seedNames.map((n, i) => startAgent(n, { listen: [seedAddrs[i]!], seedAddrs })),
        ...joinerNames.map((n) => startAgent(n, { seedAddrs })),
      ])),
    );
    const all = [...seedNames, ...joinerNames];
    await until(() => agents.every((t) => knowsAll(t, all)), 'every agent to load all', 90_000);
    for (const t of agents) expect(t.errors).toEqual([]);
  });

  it('a joiner whose seed is down at first joins once it comes up', async () => {
    // The seed's port, known in advance: a first seed process picks it, then exits.
    const first = member({ name: 'probe' }, 'port finder');
    const { addr } = await first.nextEvent('ready', 60_000);
    await first.close();
    children.splice(children.indexOf(first), 1);
    const seedAddr = addr!.replace(/\/p2p\/.*$/, '');
    const joiner = await startAgent('joiner', { seedAddrs: [seedAddr] });
    agents.push(joiner);
    // Down for 4 s: the joiner dials and is refused throughout.
    await new Promise((r) => setTimeout(r, 4000));
    expect(joiner.agent.remoteAgents).toEqual([]);
    const seed = new JsonLineChild<JsonLineReply, { event: string; addr?: string }>(
      MEMBER,
      'seed',
      {},
      {
        args: [
          JSON.stringify({
            name: 'seed',
            clusterKey: TEST_CLUSTER_KEY,
            graceMs: 10_000,
            listen: seedAddr,
          }),
        ],
        cwd: ROOT,
      },
    );
    children.push(seed);
    await seed.nextEvent('ready', 60_000);
    await until(() => joiner.agent.checkRemoteMD('seed'), 'the joiner to load the seed', 30_000);
    expect(joiner.errors).toEqual([]);
  });

  it('a seed full of joiners, asked at once to probe members that froze, never holds more than the bound open or opening', async () => {
    const hub = member({ name: 'hub', sampleMs: 5 }, 'hub');
    const hubAddr = (await hub.nextEvent('ready', 60_000)).addr!.replace(/\/p2p\/.*$/, '');
    // Members that freeze (SIGSTOP) later: their ports still complete TCP
    // connects (the kernel's backlog), so a dial of one hangs in its handshake.
    const frozen = Array.from({ length: 8 }, (_, i) =>
      member({ name: `f${i}`, seed: hubAddr }, `f${i}`),
    );
    const frozenAddrs = await Promise.all(frozen.map((f) => f.nextEvent('ready', 60_000)));
    const early = Array.from({ length: 12 }, (_, i) => `e${i}`);
    // Probed for 10 s once frozen (their grace): relays go on throughout the join.
    agents.push(
      ...(await Promise.all(
        early.map((n) => startAgent(n, { seedAddrs: [hubAddr], graceMs: 10_000 })),
      )),
    );
    const before = ['hub', ...frozen.map((_, i) => `f${i}`), ...early];
    await until(
      () => agents.every((t) => knowsAll(t, before)),
      'the first members to mesh',
      60_000,
    );

    // Every in-process agent's own count, as often as this loop turns.
    let peakHere = 0;
    const sampler = setInterval(() => {
      for (const t of agents)
        peakHere = Math.max(peakHere, t.disc.connectionCount, connectionsOpenOrOpening(t));
    }, 5);
    const joiners = Array.from({ length: 24 }, (_, i) => `j${i}`);
    try {
      // A crowd joins at the hub; once it has filled the hub's slots, members
      // freeze: their neighbours' probes time out and they ask their other
      // links (the hub among them) to relay probes, each relay a dial.
      agents.push(
        ...(await Promise.all(joiners.map((n) => startAgent(n, { seedAddrs: [hubAddr] })))),
      );
      const full = Date.now() + 5000;
      while (Date.now() < full && (await hubPeak(hub)).count < BOUND - 2)
        await new Promise((r) => setTimeout(r, 20));
      for (const f of frozen) f.signal('SIGSTOP');
      const live = ['hub', ...early, ...joiners];
      await until(
        () => agents.every((t) => knowsAll(t, live)),
        'every live agent to load all',
        90_000,
      );
      // The relays' dials of frozen members hang until their 10 s timeout: sample on.
      await new Promise((r) => setTimeout(r, 3000));
    } finally {
      clearInterval(sampler);
      for (const f of frozen) f.signal('SIGKILL');
    }
    const { count, sockets, dialing, connections, openOrOpening } = await hubPeak(hub);
    const ports = new Map<number, string>();
    for (const t of agents) ports.set(portOf(t.disc.getMultiaddrs()[0]!), t.agent.name);
    for (const [i, e] of frozenAddrs.entries()) ports.set(portOf(e.addr!), `f${i} (frozen)`);
    const trace = sockets.map(
      (s) =>
        `${s.outbound ? `out to ${ports.get(s.remotePort) ?? s.remotePort}` : 'in'} ${s.state}`,
    );
    expect(
      count,
      `the hub at its peak: ${trace.join(', ')}; libp2p held ${connections}, dialing ${JSON.stringify(dialing)}`,
    ).toBeLessThanOrEqual(BOUND);
    // The hub was full at some moment (the bound was put to the test).
    expect(count).toBeGreaterThanOrEqual(BOUND - 2);
    // The discovery's own count (0 where a build has none) stays one below.
    expect(openOrOpening).toBeLessThanOrEqual(BOUND - 1);
    expect(peakHere).toBeLessThanOrEqual(BOUND);
  });
});

const portOf = (addr: string) => Number(/\/tcp\/(\d+)/.exec(addr)![1]);

/** The discovery's own count of connections open or opening (0 where a build has none). */
const connectionsOpenOrOpening = (t: TestAgent) =>
  (t.disc as { connectionsOpenOrOpening?: number }).connectionsOpenOrOpening ?? 0;

interface HubPeak {
  count: number;
  dialing: object;
  connections: number;
  openOrOpening: number;
  sockets: { outbound: boolean; remotePort: number; state: string }[];
}
const hubPeak = async (hub: JsonLineChild<JsonLineReply, { event: string }>) =>
  (await hub.send({ cmd: 'peak' })) as unknown as HubPeak;
