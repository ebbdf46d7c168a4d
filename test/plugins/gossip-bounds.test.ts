/**
 * Discovery serves members only, and a member cannot make the others spend
 * without bound. The attackers run in their own processes
 * (rogue-member.ts); all traffic is on 127.0.0.1.
 *
 * - Outsiders (no cluster key, or a wrong one) cannot complete a connection:
 *   no metadata fetch, no publishing on the cluster topic.
 * - A rogue member sends 10,000 junk messages and 200 large (about 1 MiB)
 *   updates while its own metadata never loads: this process's event loop
 *   never stalls for 1 s, memory comes back after gc, and the real agents
 *   keep each other loaded and keep exchanging updates. First with the ban on
 *   invalid messages turned off (the size, rate and queue bounds alone), then
 *   with the defaults (the rogue is disconnected and refused).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { afterEach, describe, expect, it } from 'vitest';

import { generateClusterKey } from '../../plugins/gossip/index.js';
import {
  TEST_CLUSTER_KEY,
  closeAll,
  seedOf,
  startAgent,
  until,
  type TestAgent,
} from './helpers.js';
import { spawnRogue, type RogueProcess } from './rogue-process.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const open: (TestAgent | undefined)[] = [];
const rogues: RogueProcess[] = [];
afterEach(async () => {
  await Promise.all(rogues.splice(0).map((r) => r.close()));
  await closeAll(open.splice(0));
});

async function agent(name: string, opts: Parameters<typeof startAgent>[1] = {}) {
  const t = await startAgent(name, opts);
  open.push(t);
  return t;
}

/** The agent's full dialable address (with /p2p/<id>). */
const addrOf = (t: TestAgent) => t.disc.getMultiaddrs()[0]!;
const connectedTo = (t: TestAgent, peerId: string) =>
  (t.disc as any).node
    .getConnections()
    .some((c: any) => c.remotePeer.toString() === peerId && c.status === 'open');

function memory(): number {
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const MiB = 1024 * 1024;

describe('discovery membership (cluster key)', { timeout: 90_000 }, () => {
  for (const variant of ['no key', 'a wrong key'] as const) {
    it(`a node with ${variant} cannot connect, fetch metadata or publish`, async () => {
      const a = await agent('a');
      const b = await agent('b', { seedAddrs: [seedOf(a)] });
      await until(
        () => a.agent.checkRemoteMD('b') && b.agent.checkRemoteMD('a'),
        'a and b to join',
      );
      const outsider = spawnRogue({
        mode: 'outsider',
        seed: addrOf(a),
        cluster: 'test',
        key: variant === 'no key' ? undefined : generateClusterKey(),
        timeoutMs: 10_000,
      });
      rogues.push(outsider);
      const res = await outsider.waitEv('result', 60_000);
      expect(res.dial).toBe('failed');
      expect(res.fetch).toBe('failed');
      expect(res.topicPeers).toBe(0);
      expect(res.published).toBe(0);
      expect(res.connections).toBe(0);
      // The members saw nothing: no connection survived, no metadata served, no events.
      expect(a.disc.loadedPeers()).toEqual(['b']);
      expect(a.errors).toEqual([]);
      expect(a.events).toEqual(['peer:join b']);
      expect(a.disc.stats().dropped).toEqual({
        oversized: 0,
        rateLimited: 0,
        malformed: 0,
        unsigned: 0,
        otherCluster: 0,
        untracked: 0,
        pending: 0,
      });
    });
  }
});

describe('bounded costs under a rogue member', { timeout: 180_000 }, () => {
  it('10,000 junk messages and 200 large updates: no stall, memory returns, the view holds', async () => {
    // No ban: every message of the flood meets the per-message bounds.
    const limits = { maxInvalidMessages: 1e9 };
    const a = await agent('a', { limits });
    const b = await agent('b', { seedAddrs: [seedOf(a)], limits });
    await until(() => a.agent.checkRemoteMD('b') && b.agent.checkRemoteMD('a'), 'a and b to join');
    const baseline = memory();

    const histogram = monitorEventLoopDelay({ resolution: 10 });
    // A timer-drift probe besides the histogram: the longest gap between 10 ms ticks.
    let last = performance.now();
    let maxGap = 0;
    const probe = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 10);
    histogram.enable();

    const rogue = spawnRogue({
      mode: 'flood',
      seed: addrOf(a),
      cluster: 'test',
      key: TEST_CLUSTER_KEY,
      topicPeers: 1,
      victim: 'b',
      junk: 10_000,
      big: 200,
      // Half just under the 1 MiB gossip limit (rate and pending bounds), half just over it.
      bigBytes: [MiB - 16 * 1024, MiB + 16 * 1024],
    });
    rogues.push(rogue);
    const joined = await rogue.waitEv('joined');
    const rogueId = joined.peerId as string;
    let peakPending = 0;
    const watch = setInterval(() => {
      peakPending = Math.max(peakPending, a.disc.stats().pendingBytes, b.disc.stats().pendingBytes);
    }, 20);
    await rogue.waitEv('done', 150_000);
    // Let what is in flight arrive and be dropped.
    await new Promise((r) => setTimeout(r, 2000));
    clearInterval(watch);
    histogram.disable();
    clearInterval(probe);

    const stallMs = histogram.max / 1e6;
    const stats = a.disc.stats();
    console.log(
      `rogue member: max event-loop delay ${stallMs.toFixed(1)} ms (probe gap ${maxGap.toFixed(1)} ms), ` +
        `a dropped ${JSON.stringify(stats.dropped)}, ${stats.errorsSuppressed} reports suppressed, ` +
        `peak pending ${(peakPending / MiB).toFixed(2)} MiB`,
    );
    expect(stallMs).toBeLessThan(1000);
    expect(maxGap).toBeLessThan(1000);
    expect(stats.dropped.malformed).toBeGreaterThan(0);
    expect(stats.dropped.oversized).toBeGreaterThan(0);
    expect(stats.dropped.rateLimited).toBeGreaterThan(0);
    expect(peakPending).toBeLessThanOrEqual(16 * MiB);
    // Error reports are rate limited per peer: a handful, not thousands.
    expect(a.errors.length).toBeLessThan(100);

    // The real agents keep their view and keep working.
    expect(a.disc.loadedPeers()).toEqual(['b']);
    expect(b.disc.loadedPeers()).toEqual(['a']);
    expect(a.agent.checkRemoteMD('b') && b.agent.checkRemoteMD('a')).toBe(true);
    expect(a.agent.checkRemoteMD('rogue')).toBe(false);
    expect([...a.events, ...b.events].filter((e) => e.startsWith('peer:leave'))).toEqual([]);
    const reg = b.agent.registerMem(Buffer.alloc(4096, 1));
    await until(() => a.agent.checkRemoteMD('b', reg.descs), "a to see b's new region");

    // Memory comes back: the rogue's updates were not kept.
    const during = memory();
    await rogue.close();
    await until(() => !connectedTo(a, rogueId) && !connectedTo(b, rogueId), 'the rogue to go');
    await new Promise((r) => setTimeout(r, 1000));
    const after = memory();
    console.log(
      `memory (heapUsed + arrayBuffers): baseline ${(baseline / MiB).toFixed(1)} MiB, ` +
        `after the flood ${(during / MiB).toFixed(1)} MiB, after the rogue left ${(after / MiB).toFixed(1)} MiB`,
    );
    expect(during - baseline).toBeLessThan(64 * MiB);
    expect(after - baseline).toBeLessThan(48 * MiB);
    expect(a.disc.stats().pendingBytes).toBeLessThanOrEqual(MiB);
  });

  it('a member that keeps sending invalid gossip is disconnected and refused', async () => {
    const a = await agent('a');
    const b = await agent('b', { seedAddrs: [seedOf(a)] });
    await until(() => a.agent.checkRemoteMD('b') && b.agent.checkRemoteMD('a'), 'a and b to join');
    const rogue = spawnRogue({
      mode: 'flood',
      seed: addrOf(a),
      cluster: 'test',
      key: TEST_CLUSTER_KEY,
      topicPeers: 1,
      victim: 'b',
      junk: 10_000,
      big: 20,
      redial: true,
    });
    rogues.push(rogue);
    const rogueId = (await rogue.waitEv('joined')).peerId as string;
    await until(() => a.disc.stats().peersBanned === 1, 'a to refuse the rogue');
    const ban = a.errors.find((e) =>
      /invalid gossip messages; disconnected and refused/.test(e.message),
    );
    expect(ban?.message).toContain(rogueId);
    const redial = await rogue.waitEv('redial', 120_000);
    expect(redial.connections).toBe(0);
    expect(connectedTo(a, rogueId)).toBe(false);
    // Bounded by the ban: a saw a few dozen invalid messages, not 10,000.
    const d = a.disc.stats().dropped;
    expect(d.malformed + d.otherCluster + d.oversized + d.unsigned).toBeLessThan(200);
    expect(a.disc.loadedPeers()).toEqual(['b']);
    expect(b.disc.loadedPeers()).toEqual(['a']);
  });
});
