// The KV block manager over three tiers: this process's DRAM, then the DRAM
// of a peer process, then the DRAM of a second peer process, all over the TCP
// backend on loopback. Data is checked by hash on whichever side holds it.
import { createHash, randomBytes } from 'node:crypto';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import {
  InvalidParamError,
  NotAllowedError,
  NotFoundError,
  RemoteDisconnectError,
} from '../../src/errors.js';
import {
  KvBlockManager,
  blockHash,
  type BlockHash,
  type KvRemovedEvent,
  type KvStoredEvent,
} from '../../src/kv/index.js';
import { PeerProcess } from '../../testing/peer-harness.js';
import { waitStopped } from '../proc-stat.js';

// The socket path: on the same-host path a READ copies from the peer's memory with
// process_vm_readv, which a stopped (SIGSTOP) peer does not prevent.
const PARAMS = { port: '0', timeout_ms: '5000', connect_timeout_ms: '5000', same_host: 'off' };
const BB = 64 * 1024;

function sha(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}
function uniq(role: string): string {
  return `kvbm-${role}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** A chain of n blocks (one conversation's prefix) with random contents. */
function chain(n: number, salt: number): { hashes: BlockHash[]; data: Buffer[] } {
  const hashes: BlockHash[] = [];
  const data: Buffer[] = [];
  let parent: BlockHash | null = null;
  for (let i = 0; i < n; i++) {
    parent = blockHash(parent, [salt, i, 1, 2, 3]);
    hashes.push(parent);
    data.push(randomBytes(BB));
  }
  return { hashes, data };
}

interface PeerTier {
  proc: PeerProcess;
  name: string;
  addr: bigint;
  len: number;
  md: Buffer;
}

async function startPeer(role: string, blocks: number): Promise<PeerTier> {
  const proc = new PeerProcess();
  const name = uniq(role);
  const r = await proc.send(
    { cmd: 'init', backend: 'TCP', params: PARAMS, plugins: [], size: blocks * BB, name },
    50_000, // a fresh process on a loaded machine
  );
  if (r.error) throw new Error(r.error);
  return {
    proc,
    name,
    addr: BigInt(r.addr as string),
    len: r.len as number,
    md: Buffer.from(r.md as string, 'base64'),
  };
}

let agent: Agent;
let a: PeerTier;
let b: PeerTier;
let mgr: KvBlockManager;
let stored: KvStoredEvent[];
let removed: KvRemovedEvent[];

async function peerHash(p: PeerTier, slot: number): Promise<string> {
  const r = await p.proc.send({ cmd: 'hash', off: slot * BB, len: BB }, 10_000);
  return r.hash as string;
}

/** Every indexed block's bytes, checked by hash where they live. */
async function verifyAll(hashes: BlockHash[], data: Buffer[]): Promise<void> {
  for (const [i, h] of hashes.entries()) {
    const at = mgr.locate(h);
    if (!at) continue;
    const want = sha(data[i]!);
    if (at.tier === 'dram') expect(sha(mgr.view(h))).toBe(want);
    else expect(await peerHash(at.tier === 'peerA' ? a : b, at.slot)).toBe(want);
  }
}

beforeEach(async () => {
  agent = await Agent.create({ name: uniq('mgr'), backends: [{ type: 'TCP', params: PARAMS }] });
  [a, b] = await Promise.all([startPeer('a', 6), startPeer('b', 8)]);
  for (const p of [a, b]) {
    const r = await p.proc.send({
      cmd: 'load',
      md: Buffer.from(agent.getLocalMD()).toString('base64'),
    });
    if (r.error) throw new Error(r.error);
  }
  mgr = KvBlockManager.create(agent, {
    blockBytes: BB,
    stagingBlocks: 2,
    tiers: [
      { name: 'dram', capacity: 4 },
      // peerA from the regions its metadata lists, peerB from the region it reported.
      { name: 'peerA', agent: loadPeer(a), regions: agent.getRemoteRegions(a.name) },
      { name: 'peerB', agent: loadPeer(b), regions: [{ addr: b.addr, len: b.len }] },
    ],
  });
  stored = [];
  removed = [];
  mgr.on('stored', (e) => stored.push(e));
  mgr.on('removed', (e) => removed.push(e));
}, 60_000);

function loadPeer(p: PeerTier): string {
  return agent.loadRemoteMD(p.md);
}

afterEach(async () => {
  mgr?.close();
  await agent?.close();
  await Promise.all([a?.proc.close(), b?.proc.close()]);
});

describe('KvBlockManager over DRAM, a peer DRAM tier and a second peer tier', () => {
  it('offloads on eviction down the tiers, honours capacities, drops from the last', async () => {
    const { hashes, data } = chain(19, 1);
    for (let i = 0; i < 18; i++)
      expect(await mgr.put(hashes[i]!, i ? hashes[i - 1]! : null, data[i]!)).toBe(true);
    let s = mgr.stats();
    expect(s.tiers.map((t) => t.used)).toEqual([4, 6, 8]);
    expect(mgr.match(hashes)).toBe(18);
    // LRU: the oldest blocks went furthest down.
    expect(mgr.locate(hashes[0]!)!.tier).toBe('peerB');
    expect(mgr.locate(hashes[17]!)!.tier).toBe('dram');
    await verifyAll(hashes, data);

    // One more: the last tier's least recently used block (block 0) is dropped.
    await mgr.put(hashes[18]!, hashes[17]!, data[18]!);
    s = mgr.stats();
    expect(s.tiers.map((t) => t.used)).toEqual([4, 6, 8]);
    expect(mgr.locate(hashes[0]!)).toBeUndefined();
    expect(removed).toContainEqual({ tier: 'peerB', hashes: [hashes[0]] });
    expect(s.tiers[2]!.dropped).toBe(1);
    // Stored events name the parent; a put of a cached block changes nothing.
    expect(stored[0]).toEqual({ tier: 'dram', blocks: [{ hash: hashes[0], parent: null }] });
    expect(await mgr.put(hashes[18]!, hashes[17]!, data[18]!)).toBe(false);
    // Moves between the two peer tiers went through staging and kept the bytes.
    expect(s.tiers[1]!.out.blocks).toBeGreaterThan(0);
    await verifyAll(hashes, data);
  }, 60_000);

  it('onboards a cached prefix from every tier into the top tier, verified by hash', async () => {
    const { hashes, data } = chain(12, 2);
    for (let i = 0; i < 12; i++) await mgr.put(hashes[i]!, i ? hashes[i - 1]! : null, data[i]!);
    expect(mgr.locate(hashes[0]!)!.tier).toBe('peerB');
    expect(mgr.locate(hashes[4]!)!.tier).toBe('peerA');

    // A prefix of 4 blocks (the top tier's capacity): 2 from peerB, 2 from peerA.
    const r = await mgr.onboard([...hashes.slice(0, 4), blockHash(hashes[3]!, [9])]);
    expect(r.blocks).toBe(4);
    expect(r.found).toEqual({ peerB: 2, peerA: 2 });
    for (let i = 0; i < 4; i++) {
      expect(mgr.locate(hashes[i]!)!.tier).toBe('dram');
      expect(sha(mgr.view(hashes[i]!))).toBe(sha(data[i]!));
    }
    const s = mgr.stats();
    expect(s.tiers[2]!.onboard.blocks).toBe(2);
    expect(s.tiers[1]!.onboard.blocks).toBe(2);
    expect(s.tiers[2]!.onboard.bytes).toBe(2 * BB);
    expect(s.tiers[2]!.hits).toBe(2);
    expect(s.misses).toBe(1); // the unknown 5th block
    // Room in the top pushed its blocks down: top → peerA → peerB.
    expect(s.tiers.map((t) => t.used)).toEqual([4, 4, 4]);
    expect(s.tiers.reduce((n, t) => n + t.used, 0)).toBe(12); // nothing lost, nothing doubled
    await verifyAll(hashes, data);

    // At most the top tier's capacity comes back at once.
    const capped = await mgr.onboard(hashes.slice(4, 10));
    expect(capped.blocks).toBe(4);
    await verifyAll(hashes, data);

    // A miss at the head means no prefix at all.
    expect((await mgr.onboard([blockHash(null, [424242]), hashes[0]!])).blocks).toBe(0);
  }, 60_000);

  it('evictions skip a tier that cannot make room (its blocks being onboarded) and go lower', async () => {
    const { hashes, data } = chain(10, 8);
    for (let i = 0; i < 10; i++) await mgr.put(hashes[i]!, i ? hashes[i - 1]! : null, data[i]!);
    expect(mgr.stats().tiers.map((t) => t.used)).toEqual([4, 6, 0]);
    // 4 of peerA's 6 blocks come up; the top's 4 cannot all go to peerA (only 2 evictable
    // there), so they go to peerB directly.
    const r = await mgr.onboard(hashes.slice(0, 4));
    expect(r).toMatchObject({ blocks: 4, found: { peerA: 4 } });
    const s = mgr.stats();
    expect(s.tiers.map((t) => t.used)).toEqual([4, 2, 4]);
    expect(s.tiers[2]!.in.blocks).toBe(4);
    for (const h of hashes.slice(6)) expect(mgr.locate(h)!.tier).toBe('peerB');
    await verifyAll(hashes, data);
  }, 60_000);

  it('two onboards of the same blocks move each block once', async () => {
    const { hashes, data } = chain(12, 3);
    for (let i = 0; i < 12; i++) await mgr.put(hashes[i]!, i ? hashes[i - 1]! : null, data[i]!);
    const want = hashes.slice(0, 3); // 2 in peerB, 1 in peerA
    const [x, y] = await Promise.all([mgr.onboard(want), mgr.onboard(want)]);
    expect(x.blocks).toBe(3);
    expect(y.blocks).toBe(3);
    expect(x.slots).toEqual(y.slots);
    expect(mgr.stats().tiers[2]!.onboard.blocks).toBe(2);
    expect(mgr.stats().tiers[1]!.onboard.blocks).toBe(1);
    expect(mgr.stats().tiers.reduce((n, t) => n + t.used, 0)).toBe(12);
    for (let i = 0; i < 3; i++) expect(sha(mgr.view(hashes[i]!))).toBe(sha(data[i]!));
  }, 60_000);

  it('a tier killed during an eviction into it leaves every block where it was', async () => {
    const { hashes, data } = chain(12, 4);
    for (let i = 0; i < 12; i++) await mgr.put(hashes[i]!, i ? hashes[i - 1]! : null, data[i]!);
    const before = mgr.stats().tiers.map((t) => t.used);
    const inB = hashes.filter((h) => mgr.locate(h)!.tier === 'peerB');
    expect(inB.length).toBe(2);
    const where = new Map(hashes.map((h) => [h, mgr.locate(h)]));
    const nEvents = stored.length + removed.length;

    // Frozen, the peer cannot answer the READ; killed, its connection breaks under it.
    b.proc.signal('SIGSTOP');
    await waitStopped(b.proc.pid);
    const onboarding = mgr.onboard(inB);
    const settled = onboarding.then(
      () => 'done',
      (e: unknown) => e,
    );
    await new Promise((r) => setTimeout(r, 200));
    await b.proc.kill('SIGKILL');
    const t0 = Date.now();
    const err = await settled;
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(err, String(err)).toBeInstanceOf(RemoteDisconnectError);

    // The blocks are still indexed in peerB; the top tier's and peerA's contents did not change
    // except for what the eviction made room with (moved whole, verified below).
    for (const h of inB) expect(mgr.locate(h)!.tier).toBe('peerB');
    const after = mgr.stats();
    expect(after.tiers.reduce((n, t) => n + t.used, 0)).toBe(12);
    expect(after.tiers[2]!.used).toBe(before[2]);
    expect(after.tiers[2]!.errors).toBe(1);
    expect(after.tiers[2]!.onboard.blocks).toBe(0);
    for (const h of hashes) {
      const now = mgr.locate(h)!;
      if (now.tier !== where.get(h)!.tier) {
        // Only evictions from the top (to make room) may have moved, and they completed.
        expect(where.get(h)!.tier).toBe('dram');
        expect(now.tier).toBe('peerA');
      }
    }
    await verifyAll(
      hashes.filter((h) => mgr.locate(h)!.tier !== 'peerB'),
      data.filter((_, i) => mgr.locate(hashes[i]!)!.tier !== 'peerB'),
    );
    expect(stored.length + removed.length).toBeGreaterThanOrEqual(nEvents);

    // Declaring the tier lost removes its blocks (an event) and evictions skip it.
    expect(mgr.forgetTier('peerB')).toBe(2);
    expect(removed.at(-1)).toEqual({ tier: 'peerB', hashes: inB });
    for (const h of inB) expect(mgr.locate(h)).toBeUndefined();
    const more = chain(12, 5);
    for (let i = 0; i < 12; i++) await mgr.put(more.hashes[i]!, null, more.data[i]!);
    const s = mgr.stats();
    expect(s.tiers.map((t) => t.used)).toEqual([4, 6, 0]);
    expect(s.tiers[1]!.dropped).toBeGreaterThan(0);
  }, 60_000);
});

describe('KvBlockManager under concurrent puts and onboards', () => {
  it('keeps every block in exactly one tier, within capacities, with its bytes', async () => {
    const chains = [chain(8, 10), chain(8, 11), chain(8, 12)];
    const refused: unknown[] = [];
    // Three conversations interleaved: each turn onboards its prefix and puts 2 new blocks.
    await Promise.all(
      chains.map(async ({ hashes, data }) => {
        for (let turn = 1; turn <= 4; turn++) {
          const n = turn * 2;
          const got = await mgr.onboard(hashes.slice(0, n - 2)).catch((e: unknown) => {
            refused.push(e);
            return { blocks: 0 };
          });
          for (let i = got.blocks; i < n; i++)
            await mgr.put(hashes[i]!, i ? hashes[i - 1]! : null, data[i]!).catch((e: unknown) => {
              refused.push(e);
            });
        }
      }),
    );
    // A full top tier whose blocks are all pinned refuses with NotAllowedError: nothing else.
    for (const e of refused) expect(e).toBeInstanceOf(NotAllowedError);
    const s = mgr.stats();
    const cap = [4, 6, 8];
    s.tiers.forEach((t, i) => expect(t.used).toBeLessThanOrEqual(cap[i]!));
    const all = chains.flatMap((c) => c.hashes);
    const located = all.filter((h) => mgr.locate(h));
    expect(located.length).toBe(s.tiers.reduce((n, t) => n + t.used, 0));
    // The interleaving pushed blocks to the last tier and brought some back.
    expect(s.tiers[2]!.in.blocks).toBeGreaterThan(0);
    expect(s.tiers[1]!.onboard.blocks + s.tiers[2]!.onboard.blocks).toBeGreaterThan(0);
    // Stored minus dropped (the last tier's evictions) is what is indexed.
    expect(located.length).toBe(s.puts - s.tiers[2]!.dropped);
    await verifyAll(
      all,
      chains.flatMap((c) => c.data),
    );
  }, 60_000);
});

describe('KvBlockManager when the tier an onboard reads from dies', () => {
  it('the READ fails, the blocks stay indexed in that tier, the top slots taken go back', async () => {
    const { hashes, data } = chain(12, 6);
    for (let i = 0; i < 12; i++) await mgr.put(hashes[i]!, i ? hashes[i - 1]! : null, data[i]!);
    // Room in the top, so that the onboard needs no eviction: only its READ from peerB runs.
    expect(mgr.remove([hashes[10]!, hashes[11]!])).toBe(2);
    expect(removed.at(-1)).toEqual({ tier: 'dram', hashes: [hashes[11]] });
    const inB = hashes.filter((h) => mgr.locate(h)?.tier === 'peerB');
    expect(inB).toEqual(hashes.slice(0, 2));
    const before = mgr.stats();
    expect(before.tiers.map((t) => t.used)).toEqual([2, 6, 2]);
    const nEvents = stored.length + removed.length;

    b.proc.signal('SIGSTOP');
    await waitStopped(b.proc.pid);
    const settled = mgr.onboard(inB).then(
      () => 'done',
      (e: unknown) => e,
    );
    await new Promise((r) => setTimeout(r, 200));
    await b.proc.kill('SIGKILL');
    const t0 = Date.now();
    const err = await settled;
    expect(Date.now() - t0).toBeLessThan(20_000); // bounded by the backend's timeouts
    expect(err, String(err)).toBeInstanceOf(RemoteDisconnectError);

    const after = mgr.stats();
    expect(after.tiers.map((t) => t.used)).toEqual([2, 6, 2]);
    for (const h of inB) expect(mgr.locate(h)!.tier).toBe('peerB');
    expect(after.tiers[2]!.errors).toBe(1);
    expect(after.tiers[2]!.onboard.blocks).toBe(0);
    expect(stored.length + removed.length).toBe(nEvents); // nothing moved, nothing announced
    await verifyAll(hashes.slice(2, 10), data.slice(2, 10));
    // The two top slots the READ had taken are free again: two puts need no eviction.
    const more = chain(2, 7);
    for (let i = 0; i < 2; i++) await mgr.put(more.hashes[i]!, null, more.data[i]!);
    expect(mgr.stats().tiers.map((t) => t.used)).toEqual([4, 6, 2]);
    expect(mgr.stats().tiers[1]!.in.blocks).toBe(before.tiers[1]!.in.blocks);
  }, 60_000);
});

describe('KvBlockManager refuses bad input and changes nothing', () => {
  it('bad options and bad blocks; a top tier alone drops its LRU block', async () => {
    expect(() =>
      KvBlockManager.create(agent, { blockBytes: 0, tiers: [{ name: 'x', capacity: 1 }] }),
    ).toThrow(InvalidParamError);
    expect(() => KvBlockManager.create(agent, { blockBytes: BB, tiers: [] })).toThrow(
      InvalidParamError,
    );
    expect(() =>
      KvBlockManager.create(agent, {
        blockBytes: BB,
        tiers: [
          { name: 'x', capacity: 1 },
          { name: 'x', agent: a.name, regions: [{ addr: a.addr, len: a.len }] },
        ],
      }),
    ).toThrow(InvalidParamError);
    expect(() =>
      KvBlockManager.create(agent, {
        blockBytes: BB,
        tiers: [
          { name: 'x', capacity: 1 },
          { name: 'y', agent: a.name, capacity: 7, regions: [{ addr: a.addr, len: a.len }] },
        ],
      }),
    ).toThrow(InvalidParamError);
    // An unknown peer: NotFoundError from the agent, and nothing left registered.
    expect(() =>
      KvBlockManager.create(agent, {
        blockBytes: BB,
        tiers: [
          { name: 'x', capacity: 1 },
          { name: 'y', agent: 'nobody', regions: [{ addr: 4096n, len: BB }] },
        ],
      }),
    ).toThrow(NotFoundError);

    const h = blockHash(null, [1]);
    await expect(mgr.put(h, null, new Uint8Array(BB - 1))).rejects.toThrow(InvalidParamError);
    await expect(mgr.put('zz', null, new Uint8Array(BB))).rejects.toThrow(InvalidParamError);
    await expect(mgr.onboard(['zz'])).rejects.toThrow(InvalidParamError);
    await expect(mgr.onboard([h, h])).rejects.toThrow(InvalidParamError);
    expect(() => mgr.view(h)).toThrow(NotFoundError);
    expect(mgr.stats().puts).toBe(0);

    // A one-block top tier with no lower tier: a second put drops the first block.
    const small = KvBlockManager.create(agent, {
      blockBytes: BB,
      tiers: [{ name: 'top', capacity: 1 }],
    });
    const gone: KvRemovedEvent[] = [];
    small.on('removed', (e) => gone.push(e));
    try {
      await small.put(h, null, new Uint8Array(BB).fill(7));
      expect(small.view(h)[0]).toBe(7);
      const h2 = blockHash(null, [2]);
      expect(await small.put(h2, null, new Uint8Array(BB))).toBe(true);
      expect(small.locate(h)).toBeUndefined();
      expect(gone).toEqual([{ tier: 'top', hashes: [h] }]);
    } finally {
      small.close();
    }
    mgr.close();
    await expect(mgr.put(h, null, new Uint8Array(BB))).rejects.toThrow(NotAllowedError);
  }, 60_000);
});
