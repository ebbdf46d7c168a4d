/**
 * Metadata gossip between agents in this process, found through a static
 * seed list on 127.0.0.1 (no multicast): joining, updates, tombstones,
 * trust (name ownership, format version, cluster) and option checks.
 */
import { createServer, type AddressInfo, type Server } from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { InvalidParamError, MismatchError, NotAllowedError } from '../../src/errors.js';
import {
  CLUSTER_KEY_ENV,
  CLUSTER_KEY_FILE_ENV,
  generateClusterKey,
  gossip,
  parseClusterKey,
} from '../../plugins/gossip/index.js';
import { seeds } from '../../plugins/seeds/index.js';
import { mdns } from '../../plugins/mdns/index.js';
import {
  TEST_CLUSTER_KEY,
  closeAll,
  seedOf,
  startAgent,
  until,
  type TestAgent,
} from './helpers.js';
import { startRogue, type Rogue } from './rogue.js';

const open: (TestAgent | undefined)[] = [];
const rogues: Rogue[] = [];
afterEach(async () => {
  await closeAll(open.splice(0));
  await Promise.all(rogues.splice(0).map((r) => r.stop()));
});

async function agent(
  name: string,
  opts: Parameters<typeof startAgent>[1] = {},
): Promise<TestAgent> {
  const t = await startAgent(name, opts);
  open.push(t);
  return t;
}

/** Ports free on 127.0.0.1 now (bound, then released): a seed listens on a port known in advance. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

const knowsAll = (t: TestAgent, names: string[]) => names.every((n) => t.agent.checkRemoteMD(n));

describe('gossip discovery over a seed list', { timeout: 60_000 }, () => {
  it('finds every agent through one seed, then a late joiner', async () => {
    const a = await agent('a');
    const seed = [seedOf(a)];
    const b = await agent('b', { seedAddrs: seed });
    const c = await agent('c', { seedAddrs: seed });
    const signal = AbortSignal.timeout(20_000);
    await Promise.all([a.agent.waitForPeer('b', { signal }), a.agent.waitForPeer('c', { signal })]);
    // b and c only know the seed: they find each other through it.
    await until(
      () => knowsAll(b, ['a', 'c']) && knowsAll(c, ['a', 'b']),
      'b and c to load each other',
    );
    expect(a.events).toEqual(expect.arrayContaining(['peer:join b', 'peer:join c']));

    const d = await agent('d', { seedAddrs: seed });
    await until(
      () => knowsAll(d, ['a', 'b', 'c']) && [a, b, c].every((t) => t.agent.checkRemoteMD('d')),
      'everyone to load the late joiner d',
    );
    expect(b.events).toContain('peer:join d');
    expect(a.errors).toEqual([]);
  });

  it("a joiner loads the directory its first link syncs in a few passes, not one per member, each member's metadata once", async () => {
    const a = await agent('a');
    const members = ['b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const others = await Promise.all(members.map((n) => agent(n, { seedAddrs: [seedOf(a)] })));
    await until(
      () => knowsAll(a, members) && others.every((t) => knowsAll(t, ['a'])),
      'the members to join a',
    );
    const j = await agent('j', { seedAddrs: [seedOf(a)] });
    await until(() => knowsAll(j, ['a', ...members]), 'the joiner to load every member');
    // Its first link sends its own record, then pushes the other seven in one frame: the
    // records accepted in one turn of the event loop are loaded together.
    const { passes, records } = j.disc.stats().recordLoads;
    expect(records).toBeGreaterThanOrEqual(8);
    expect(passes).toBeLessThanOrEqual(records / 2);
    for (const n of ['a', ...members])
      expect(j.events.filter((e) => e === `peer:join ${n}`)).toHaveLength(1);
    expect(j.errors).toEqual([]);
  });

  it('reloads members the agent dropped on its own, several in one tick', async () => {
    const a = await agent('a');
    const seed = [seedOf(a)];
    const b = await agent('b', { seedAddrs: seed });
    const c = await agent('c', { seedAddrs: seed });
    await until(() => knowsAll(a, ['b', 'c']), 'a to load b and c');
    // As when a backend saw them disconnect: the discovery's periodic check (every
    // announceIntervalMs) finds both gone, reports them left and loads them again.
    a.agent.invalidateRemoteMD('b');
    a.agent.invalidateRemoteMD('c');
    const joins = (name: string) => a.events.filter((e) => e === `peer:join ${name}`).length;
    await until(
      () => knowsAll(a, ['b', 'c']) && joins('b') === 2 && joins('c') === 2,
      'a to reload b and c',
    );
    expect(a.events).toEqual(expect.arrayContaining(['peer:leave b', 'peer:leave c']));
    expect(a.events.lastIndexOf('peer:leave b')).toBeLessThan(a.events.lastIndexOf('peer:join b'));
    expect(a.errors).toEqual([]);
    expect(b.errors.concat(c.errors)).toEqual([]);
  });

  it('spreads a registration made after joining as a peer:update, and a deregistration', async () => {
    const a = await agent('a');
    const b = await agent('b', { seedAddrs: [seedOf(a)] });
    await until(() => knowsAll(a, ['b']) && knowsAll(b, ['a']), 'a and b to join');

    const buf = Buffer.alloc(4096, 7);
    const reg = b.agent.registerMem(buf);
    await until(() => a.agent.checkRemoteMD('b', reg.descs), "a to see b's new region");
    expect(a.events).toContain('peer:update b');
    expect(a.agent.getRemoteRegions('b').length).toBe(1);

    const buf2 = Buffer.alloc(8192, 1);
    const reg2 = b.agent.registerMem(buf2);
    await until(() => a.agent.checkRemoteMD('b', reg2.descs), "a to see b's second region");

    reg.close();
    await until(() => !a.agent.checkRemoteMD('b', reg.descs), "a to drop b's deregistered region");
    expect(a.agent.checkRemoteMD('b', reg2.descs)).toBe(true);
  });

  it('a burst of 400 registrations reaches peers (paced updates, then a refetch), with no errors', async () => {
    const a = await agent('a');
    const b = await agent('b', { seedAddrs: [seedOf(a)] });
    await until(() => knowsAll(a, ['b']) && knowsAll(b, ['a']), 'a and b to join');
    const regs = Array.from({ length: 400 }, (_, i) =>
      b.agent.registerMem(Buffer.alloc(256, i & 0xff)),
    );
    await until(
      () => regs.every((r) => a.agent.checkRemoteMD('b', r.descs)),
      "a to see all of b's regions",
    );
    expect(a.errors).toEqual([]);
    expect(a.disc.stats().dropped.rateLimited).toBe(0);
  });

  it('several seeds: a dead seed in the list is passed over, and the joiners the seeds took in form one cluster', async () => {
    const [p1, p2, dead] = await freePorts(3);
    const addr = (port: number) => `/ip4/127.0.0.1/tcp/${port}`;
    const seedList = [addr(p1!), addr(p2!)];
    // Each seed is given the whole list (itself included, which it skips) and dials the other.
    const s1 = await agent('s1', { listen: [addr(p1!)], seedAddrs: seedList });
    const s2 = await agent('s2', { listen: [addr(p2!)], seedAddrs: seedList });
    await until(() => knowsAll(s1, ['s2']) && knowsAll(s2, ['s1']), 'the seeds to find each other');
    const joiners = await Promise.all(
      ['j1', 'j2', 'j3', 'j4'].map((n) => agent(n, { seedAddrs: [addr(dead!), ...seedList] })),
    );
    const all = [s1, s2, ...joiners];
    const names = all.map((t) => t.agent.name);
    await until(
      () =>
        all.every((t) =>
          knowsAll(
            t,
            names.filter((n) => n !== t.agent.name),
          ),
        ),
      'all six agents to load each other',
    );
    for (const t of all) expect(t.errors).toEqual([]);
  });

  it("a closing agent's tombstone invalidates it at once, long before the grace period", async () => {
    const a = await agent('a', { graceMs: 60_000 });
    const b = await agent('b', { seedAddrs: [seedOf(a)], graceMs: 60_000 });
    const c = await agent('c', { seedAddrs: [seedOf(a)], graceMs: 60_000 });
    await until(() => knowsAll(a, ['b', 'c']) && knowsAll(c, ['a', 'b']), 'all to join');
    const t0 = Date.now();
    await b.agent.close();
    // close() returns once its links confirmed reading the tombstone: a (b's seed, linked) has
    // already invalidated b; c may hear it from a.
    expect(a.agent.checkRemoteMD('b')).toBe(false);
    await until(
      () => !a.agent.checkRemoteMD('b') && !c.agent.checkRemoteMD('b'),
      'b to be invalidated',
    );
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(a.events).toContain('peer:leave b');
    expect(c.events).toContain('peer:leave b');
    // The name is free again: a new agent may take it.
    const b2 = await agent('b', { seedAddrs: [seedOf(a)], graceMs: 60_000 });
    await until(() => a.agent.checkRemoteMD('b') && knowsAll(b2, ['a', 'c']), 'a new b to join');
    expect(a.errors).toEqual([]);
  });

  it('refuses a second agent claiming a taken name, and lets it in once the owner leaves', async () => {
    const a = await agent('a', { graceMs: 1000 });
    const x1 = await agent('x', { seedAddrs: [seedOf(a)], graceMs: 1000 });
    await until(() => knowsAll(a, ['x']), 'the first x to join');
    const owner = x1.disc.peerId!;

    const x2 = await agent('x', { seedAddrs: [seedOf(a)], graceMs: 1000 });
    await until(
      () => a.errors.some((e) => e.message.includes(x2.disc.peerId!)),
      'a to refuse the second x',
    );
    const err = a.errors.find((e) => e.message.includes(x2.disc.peerId!))!;
    expect(err).toBeInstanceOf(NotAllowedError);
    expect(err.message).toContain(`agent name 'x' is owned by peer ${owner}`);
    expect(a.events).not.toContain('peer:update x');

    // The owner leaves; the refused claimant is retried and takes the name.
    const joinsBefore = a.events.filter((e) => e === 'peer:join x').length;
    await x1.agent.close();
    await until(
      () => a.events.filter((e) => e === 'peer:join x').length > joinsBefore,
      'the second x to join',
    );
    expect(a.agent.checkRemoteMD('x')).toBe(true);
  });

  it('ignores gossip about an agent from a peer that does not own its name', async () => {
    const a = await agent('a');
    const x = await agent('x', { seedAddrs: [seedOf(a)] });
    await until(() => knowsAll(a, ['x']), 'x to join');
    const rogue = await startRogue({ seed: seedOf(a), clusterKey: TEST_CLUSTER_KEY });
    rogues.push(rogue);
    await until(() => rogue.linked(), 'a to link the rogue');
    // The rogue relays a tombstone of x it signed itself, and claims x's name with its own record.
    await rogue.forgeRecord(x.disc.peerId!, 'x', true);
    await rogue.claim('x');
    await until(
      () => a.errors.filter((e) => e.message.includes(rogue.peerId)).length >= 2,
      'two refusals',
    );
    for (const e of a.errors) expect(e).toBeInstanceOf(NotAllowedError);
    expect(a.agent.checkRemoteMD('x')).toBe(true);
    expect(a.events).not.toContain('peer:leave x');
  });

  it('refuses a peer serving metadata of another format version', async () => {
    const a = await agent('a');
    const rogue = await startRogue({
      seed: seedOf(a),
      clusterKey: TEST_CLUSTER_KEY,
      serve: { name: 'old', formatVersion: 99 },
    });
    rogues.push(rogue);
    await until(() => a.errors.length > 0, 'a to refuse the rogue');
    expect(a.errors[0]).toBeInstanceOf(MismatchError);
    expect(a.errors[0]!.message).toMatch(/format version 99/);
    expect(a.agent.checkRemoteMD('old')).toBe(false);
  });

  it('refuses a peer of another cluster without telling either side the other name', async () => {
    // Same cluster key, two cluster names: members of one may not load the other.
    const a = await agent('a', { cluster: 'alpha-7f3c' });
    const other = await agent('o', { seedAddrs: [seedOf(a)], cluster: 'omega-91ab' });
    await until(() => a.errors.length > 0 && other.errors.length > 0, 'both to refuse');
    expect(other.errors[0]).toBeInstanceOf(NotAllowedError);
    expect(other.errors[0]!.message).toMatch(
      /another cluster|not a member of the requested cluster/,
    );
    for (const e of [...a.errors, ...other.errors]) {
      expect(e.message).not.toContain('alpha-7f3c');
      expect(e.message).not.toContain('omega-91ab');
    }
    expect(a.agent.checkRemoteMD('o')).toBe(false);
    expect(other.agent.checkRemoteMD('a')).toBe(false);
  });

  it('refuses a peer claiming our own name', async () => {
    const a = await agent('a');
    const a2 = await agent('a', { seedAddrs: [seedOf(a)] });
    await until(() => a.errors.length > 0 && a2.errors.length > 0, 'both to refuse');
    expect(a.errors[0]).toBeInstanceOf(NotAllowedError);
    expect(a.errors[0]!.message).toMatch(/own name 'a'/);
  });
});

describe('discovery options', { timeout: 30_000 }, () => {
  it('rejects bad options with InvalidParamError', () => {
    const clusterKey = TEST_CLUSTER_KEY;
    expect(() => gossip({ cluster: '', clusterKey })).toThrow(InvalidParamError);
    expect(() => gossip({ cluster: 'a b', clusterKey })).toThrow(/cluster/);
    expect(() => gossip({ cluster: 'c', clusterKey, graceMs: -1 })).toThrow(/graceMs/);
    expect(() => gossip({ cluster: 'c', clusterKey, listen: [] })).toThrow(/listen/);
    expect(() => gossip({ cluster: 'c', clusterKey, limits: { maxMessageBytes: 0 } })).toThrow(
      /maxMessageBytes/,
    );
    expect(() => seeds(['not a multiaddr'])).toThrow(InvalidParamError);
    expect(() => mdns({ intervalMs: 1 })).toThrow(InvalidParamError);
  });

  it('refuses to start without a cluster key unless insecure: true, and never echoes a bad key', () => {
    const saved = { k: process.env[CLUSTER_KEY_ENV], f: process.env[CLUSTER_KEY_FILE_ENV] };
    delete process.env[CLUSTER_KEY_ENV];
    delete process.env[CLUSTER_KEY_FILE_ENV];
    try {
      expect(() => gossip({ cluster: 'c' })).toThrow(/cluster key is required/);
      expect(gossip({ cluster: 'c', insecure: true }).insecure).toBe(true);
      expect(() => gossip({ cluster: 'c', insecure: true, clusterKey: TEST_CLUSTER_KEY })).toThrow(
        /not both/,
      );
      const bad = 'zz' + TEST_CLUSTER_KEY.slice(2);
      expect(() => gossip({ cluster: 'c', clusterKey: bad })).toThrow(InvalidParamError);
      try {
        gossip({ cluster: 'c', clusterKey: bad });
      } catch (err) {
        expect((err as Error).message).not.toContain(bad.slice(2));
      }
      // The key from the environment, in either accepted form.
      process.env[CLUSTER_KEY_ENV] = generateClusterKey();
      expect(gossip({ cluster: 'c' }).insecure).toBe(false);
      process.env[CLUSTER_KEY_ENV] = `/key/swarm/psk/1.0.0/\n/base16/\n${generateClusterKey()}\n`;
      expect(gossip({ cluster: 'c' }).insecure).toBe(false);
      process.env[CLUSTER_KEY_ENV] = 'short';
      expect(() => gossip({ cluster: 'c' })).toThrow(new RegExp(CLUSTER_KEY_ENV));
    } finally {
      for (const [name, v] of [
        [CLUSTER_KEY_ENV, saved.k],
        [CLUSTER_KEY_FILE_ENV, saved.f],
      ] as const) {
        if (v === undefined) delete process.env[name];
        else process.env[name] = v;
      }
    }
    expect(generateClusterKey()).toMatch(/^[0-9a-f]{64}$/);
    expect(parseClusterKey(TEST_CLUSTER_KEY)).toHaveLength(32);
  });

  it('listens on loopback unless told otherwise', async () => {
    const t = await agent('l', { listen: undefined });
    const addrs = t.disc.getMultiaddrs();
    expect(addrs.length).toBeGreaterThan(0);
    for (const a of addrs) expect(a).toMatch(/^\/ip4\/127\.0\.0\.1\//);
  });

  it('refuses mDNS under test in the host network namespace, and the agent is not created', async () => {
    const disc = gossip({
      cluster: 'c',
      clusterKey: TEST_CLUSTER_KEY,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      sources: [mdns()],
    });
    await expect(
      Agent.create({
        name: 'm',
        backends: [{ type: 'TCP', params: { bind_addr: '127.0.0.1' } }],
        discovery: disc,
      }),
    ).rejects.toThrow(/mDNS refused under test in the host's network namespace/);
  });

  it('a discovery object starts once', async () => {
    const t = await agent('a');
    await expect(Agent.create({ name: 'b', discovery: t.disc })).rejects.toThrow(NotAllowedError);
  });
});
