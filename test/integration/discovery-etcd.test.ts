/**
 * Agent processes that share metadata through a real etcd (started by the
 * test on 127.0.0.1, test/etcd/etcd-server.ts), moving data over the TCP
 * backend on 127.0.0.1: discovery and a transfer with a notification,
 * fetchRemoteMD of a late peer, registrations as partial metadata, a crashed
 * agent expiring, a closed one leaving at once, and etcd itself killed and
 * restarted mid-run.
 *
 * Bounds on this 2-core machine, measured beside what is asserted: a crash
 * is seen within TTL + 1 s (the lease expires TTL after its last keep-alive,
 * which was at most TTL/3 before the crash; etcd checks expiry every 0.5 s),
 * asserted with 2 s of slack for a loaded machine; a close within 1 s,
 * asserted with 1 s of slack.
 */
import { Etcd3 } from 'etcd3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { EtcdServer, skipWithoutEtcd } from '../etcd/etcd-server.js';
import { joined, patternSha256, spawnEtcdAgent } from '../etcd/etcd-agents.js';
import type { AgentProcess } from './agent-process.js';

const TTL_S = 2;
const SLACK_MS = 2000;
let server: EtcdServer;
const procs: AgentProcess[] = [];

beforeEach(async () => {
  server = await EtcdServer.start();
});
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.close()));
  await server.stop();
});

function start(name: string, ttlSeconds = TTL_S): AgentProcess {
  const p = spawnEtcdAgent(name, { endpoints: server.endpoint, ttlSeconds });
  procs.push(p);
  return p;
}

/**
 * Resolves once `p` has loaded `peer`: peers already published when an agent
 * starts are loaded before Agent.create resolves (its ready event lists
 * them); later ones come with peer:join.
 */
/** The lease that a key lives under (etcd's view). */
async function leaseOf(key: string): Promise<string | undefined> {
  const raw = new Etcd3({ hosts: server.endpoint });
  try {
    return (await raw.get(key).exec()).kvs[0]?.lease;
  } finally {
    raw.close();
  }
}

async function registered(p: AgentProcess, size: number, seed: number) {
  const r = await p.request({ cmd: 'register', size, seed }, 'registered');
  return { addr: r.addr as string, len: r.len as number };
}

describe.skipIf(skipWithoutEtcd)(
  'metadata through etcd, across processes',
  { timeout: 120_000 },
  () => {
    it('two agents find each other and move data with a notification', async () => {
      const a = start('a');
      const b = start('b');
      await Promise.all([joined(a, 'b'), joined(b, 'a')]);
      const region = await registered(b, 1 << 20, 1);
      await a.waitEv('peer:update', 'b');

      await a.request({ cmd: 'write', peer: 'b', ...region, seed: 7, notif: 'hello b' }, 'written');
      const notif = await b.waitEv('notif');
      expect(notif).toMatchObject({ from: 'a', msg: 'hello b' });
      const read = await a.request({ cmd: 'read', peer: 'b', ...region }, 'read');
      expect(read.sha256).toBe(patternSha256(region.len, 7));
      expect([...a.events, ...b.events].filter((e) => e.ev === 'error')).toEqual([]);
    });

    it('fetchRemoteMD waits for a peer that publishes 2 s later; a peer that never does is NotFound', async () => {
      const a = start('a');
      await a.waitEv('ready');
      a.post({ cmd: 'fetch', peer: 'late', timeoutMs: 30_000 });
      await new Promise((r) => setTimeout(r, 2000));
      const late = start('late');
      const ready = await late.waitEv('ready');
      const fetched = await a.waitEv('fetched');
      expect(fetched.ms).toBeGreaterThanOrEqual(2000);
      expect(fetched.loaded).toBe(true);
      // Watched, not polled: it lands right after the peer published.
      expect(fetched.t - ready.t).toBeLessThan(1000 + SLACK_MS);

      const missing = a.request({ cmd: 'fetch', peer: 'nobody', timeoutMs: 500 }, 'fetched');
      await expect(missing).rejects.toThrow(/NIXL_ERR_NOT_FOUND .*'nobody' did not appear within/);
    });

    it('a registration after start arrives as partial metadata: prepared requests stay valid', async () => {
      const a = start('a');
      const b = start('b');
      await Promise.all([joined(a, 'b'), joined(b, 'a')]);
      const first = await registered(b, 64 << 10, 11);
      await a.waitEv('peer:update', 'b');
      await a.request({ cmd: 'prep', peer: 'b', ...first }, 'prepped');

      const updates = a.events.filter((e) => e.ev === 'peer:update').length;
      const second = await registered(b, 256 << 10, 12);
      await a.waitFor(
        (e) =>
          e.ev === 'peer:update' && a.events.filter((x) => x.ev === 'peer:update').length > updates,
        'the second registration',
      );
      const read = await a.request({ cmd: 'read', peer: 'b', ...second }, 'read');
      expect(read.sha256).toBe(patternSha256(second.len, 12));
      // Full metadata would have started a new generation of 'b' on 'a' and
      // failed this request ("reloaded since this was prepared").
      const again = await a.request({ cmd: 'repost' }, 'reposted');
      expect(again.sha256).toBe(patternSha256(first.len, 11));
    });

    it(`a SIGKILLed agent is invalidated everywhere within TTL (${TTL_S} s) + 1 s`, async () => {
      const [a, b, c] = [start('a'), start('b'), start('c')];
      await Promise.all([joined(a, 'c'), joined(b, 'c'), joined(c, 'a'), joined(c, 'b')]);
      const killedAt = Date.now();
      await c.kill('SIGKILL');
      const leaves = await Promise.all([a.waitEv('peer:leave', 'c'), b.waitEv('peer:leave', 'c')]);
      const ms = leaves.map((l) => l.t - killedAt);
      console.log(`SIGKILLed agent invalidated after ${ms.join(', ')} ms (TTL ${TTL_S} s)`);
      for (const m of ms) expect(m).toBeLessThan(TTL_S * 1000 + 1000 + SLACK_MS);
      expect(a.events.some((e) => e.ev === 'peer:leave' && e.peer === 'b')).toBe(false);
    });

    it('close() invalidates the agent everywhere at once', async () => {
      // A long TTL: only the revoke at close can explain a fast leave.
      const [a, b, c] = [start('a', 30), start('b', 30), start('c', 30)];
      await Promise.all([joined(a, 'c'), joined(b, 'c')]);
      const closedAt = Date.now();
      await c.close();
      const leaves = await Promise.all([a.waitEv('peer:leave', 'c'), b.waitEv('peer:leave', 'c')]);
      const ms = leaves.map((l) => l.t - closedAt);
      console.log(`closed agent invalidated after ${ms.join(', ')} ms`);
      for (const m of ms) expect(m).toBeLessThan(1000 + 1000);
    });

    it('etcd killed and restarted mid-run: transfers go on, and a new agent joins afterwards', async () => {
      const a = start('a');
      const b = start('b');
      await Promise.all([joined(a, 'b'), joined(b, 'a')]);
      const region = await registered(b, 256 << 10, 21);
      await a.waitEv('peer:update', 'b');
      const sha256 = patternSha256(region.len, 21);
      await a.request(
        { cmd: 'loop-start', peer: 'b', ...region, sha256, intervalMs: 20 },
        'loop-started',
      );
      await a.request({ cmd: 'prep', peer: 'b', ...region }, 'prepped');
      const leaseBefore = await leaseOf('/nixl/agents/a/metadata');
      expect(leaseBefore).toBeDefined();

      await server.kill();
      // A registration while etcd is away reaches 'a' once it is back.
      const second = await registered(b, 64 << 10, 22);
      // Down for longer than the lease TTL.
      await new Promise((r) => setTimeout(r, TTL_S * 1000 + 1000));
      const restartedAt = Date.now();
      await server.start();

      const c = start('c');
      await Promise.all([joined(c, 'a'), joined(c, 'b'), joined(a, 'c'), joined(b, 'c')]);
      // Re-published under a new lease.
      const leaseAfter = await leaseOf('/nixl/agents/a/metadata');
      expect(leaseAfter).toBeDefined();
      expect(leaseAfter).not.toBe(leaseBefore);
      const stats = await a.request({ cmd: 'loop-stop' }, 'loop-stopped');
      console.log(`transfers across the etcd restart: ${stats.ok} ok, ${stats.failed} failed`);
      expect(stats.errors).toEqual([]);
      expect(stats.failed).toBe(0);
      expect(stats.ok).toBeGreaterThan(20);
      for (const p of [a, b]) {
        expect(p.events.filter((e) => e.ev === 'peer:leave')).toEqual([]);
      }
      // The restarted etcd serves the old peers to the newcomer and the newcomer to them.
      const read = await c.request({ cmd: 'read', peer: 'b', ...region }, 'read');
      expect(read.sha256).toBe(sha256);
      // The registration made during the outage arrived as partial metadata:
      // the request 'a' prepared before the outage is still valid.
      await a.waitFor(
        (e) => e.ev === 'peer:update' && e.peer === 'b' && e.t >= restartedAt,
        "b's update",
      );
      const read2 = await a.request({ cmd: 'read', peer: 'b', ...second }, 'read');
      expect(read2.sha256).toBe(patternSha256(second.len, 22));
      const again = await a.request({ cmd: 'repost' }, 'reposted');
      expect(again.sha256).toBe(sha256);
    });

    it("a peer that reads etcd again only after the registrant's recovery writes still applies the partial update", async () => {
      // An ordering that a loaded machine makes now and then, made certain:
      // 'a' is stopped while etcd restarts and 'b' recovers (a new lease, the
      // old one revoked, and a retry of the write that failed during the
      // outage), and etcd's history is compacted, so that a's watch cannot
      // replay b's update: a's first read after the outage comes after all of
      // b's writes. A TTL longer than the pause keeps a's lease alive.
      const a = start('a', 30);
      const b = start('b');
      await Promise.all([joined(a, 'b'), joined(b, 'a')]);
      const first = await registered(b, 64 << 10, 31);
      await a.waitEv('peer:update', 'b');
      await a.request({ cmd: 'prep', peer: 'b', ...first }, 'prepped');
      const leaseBefore = await leaseOf('/nixl/agents/b/metadata');

      process.kill(a.pid, 'SIGSTOP');
      let resumedAt = 0;
      let second: { addr: string; len: number };
      try {
        await server.kill();
        second = await registered(b, 256 << 10, 32);
        await new Promise((r) => setTimeout(r, 1500));
        await server.start();
        const deadline = Date.now() + 20_000;
        while ((await leaseOf('/nixl/agents/b/metadata')) === leaseBefore) {
          if (Date.now() > deadline) throw new Error('b did not renew its lease within 20 s');
          await new Promise((r) => setTimeout(r, 100));
        }
        // b's failed write is retried every second: let that retry land too.
        await new Promise((r) => setTimeout(r, 2500));
        const raw = new Etcd3({ hosts: server.endpoint });
        try {
          const { header } = await raw.kv.range({ key: Buffer.from('/') });
          await raw.kv.compact({ revision: header.revision, physical: true });
        } finally {
          raw.close();
        }
      } finally {
        resumedAt = Date.now();
        process.kill(a.pid, 'SIGCONT');
      }

      await a.waitFor(
        (e) => e.ev === 'peer:update' && e.peer === 'b' && e.t >= resumedAt,
        "b's update",
      );
      const read = await a.request({ cmd: 'read', peer: 'b', ...second }, 'read');
      expect(read.sha256).toBe(patternSha256(second.len, 32));
      // Full metadata would have started a new generation of 'b' on 'a'.
      const again = await a.request({ cmd: 'repost' }, 'reposted');
      expect(again.sha256).toBe(patternSha256(first.len, 31));
      expect(a.events.filter((e) => e.ev === 'peer:leave')).toEqual([]);
    });
  },
);
