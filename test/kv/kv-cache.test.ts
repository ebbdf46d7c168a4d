// The KV layer against the LOCAL backend: two caches of one agent, the
// target being the agent itself (loopback), so no network is involved.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import {
  CanceledError,
  InvalidParamError,
  MismatchError,
  NotAllowedError,
  NotFoundError,
} from '../../src/errors.js';
import {
  BlockPool,
  KV_ARRANGEMENTS,
  KvCache,
  NotifTracker,
  PushSession,
  awaitPushedBlocks,
  pullBlocks,
  pushBlocks,
  releaseAfterReads,
  type KvLayoutSpec,
} from '../../src/kv/index.js';
import { fillKvBlocks, verifyKvBlocks } from '../../testing/pattern.js';

const spec: KvLayoutSpec = {
  layers: 4,
  blocks: 16,
  blockBytes: 256,
  elementSize: 2,
  arrangement: 'layer-kv',
};

let agent: Agent;

beforeEach(async () => {
  agent = await Agent.create({ name: 'kv-unit', backends: ['LOCAL'] });
});

afterEach(async () => {
  await agent.close();
});

function pair(prefill: Partial<KvLayoutSpec> = {}, decode: Partial<KvLayoutSpec> = {}) {
  const p = KvCache.create(agent, { ...spec, ...prefill }, { label: 'prefill' });
  const d = KvCache.create(agent, { ...spec, blocks: 12, ...decode }, { label: 'decode' });
  return { p, d };
}

describe('KvCache block transfers (loopback)', () => {
  for (const from of KV_ARRANGEMENTS) {
    for (const to of KV_ARRANGEMENTS) {
      it(`READ moves non-contiguous blocks from ${from} into ${to}`, async () => {
        const { p, d } = pair({ arrangement: from }, { arrangement: to });
        const remote = [3, 7, 8, 9, 15];
        const local = [0, 5, 6, 1, 11];
        fillKvBlocks(p, remote, 42);
        d.connectPeer(agent.name, { label: 'prefill' });
        await d.transferBlocks('READ', local, agent.name, remote, {});
        expect(verifyKvBlocks(d, local, 42, remote)).toBeUndefined();
        // The blocks around were not touched.
        expect(verifyKvBlocks(d, [2], 42, [4])).toBeDefined();
        expect(d.sliceView(0, 0, 2).every((x) => x === 0)).toBe(true);
      });
    }
  }

  it('WRITE moves a partial block list to the peer cache', async () => {
    const { p, d } = pair({ arrangement: 'layer' }, { arrangement: 'layer' });
    fillKvBlocks(p, [1, 2], 7);
    p.connectPeer(agent.name, { label: 'decode' });
    await p.transferBlocks('WRITE', [1, 2], agent.name, [10, 4]);
    expect(verifyKvBlocks(d, [10, 4], 7, [1, 2])).toBeUndefined();
  });

  it('merges runs of consecutive blocks into one descriptor per region run', () => {
    const { p, d } = pair();
    d.connectPeer(agent.name, { label: 'prefill' });
    const run = d.makeBlockXfer('READ', [2, 3, 4, 5], agent.name, [8, 9, 10, 11]);
    expect(run.descCount).toBe(4 * 2); // one per (layer, plane) region
    expect(run.totalBytes).toBe(4 * 4 * 2 * 256);
    const scattered = d.makeBlockXfer('READ', [2, 3, 4, 5], agent.name, [8, 10, 12, 14]);
    expect(scattered.descCount).toBe(4 * 4 * 2);
    run.release();
    scattered.release();
    p.close();
    const c1 = KvCache.create(agent, { ...spec, arrangement: 'contiguous' }, { label: 'c1' });
    const c2 = KvCache.create(agent, { ...spec, arrangement: 'contiguous' }, { label: 'c2' });
    c2.connectPeer(agent.name, { label: 'c1' });
    const whole = c2.makeBlockXfer('WRITE', [0, 1, 2, 5, 6], agent.name, [4, 5, 6, 9, 10]);
    expect(whole.descCount).toBe(2); // two runs, each whole blocks of all layers
    whole.release();
  });

  it('moves a range of layers only (layer by layer, as prefill computes them)', async () => {
    for (const arrangement of KV_ARRANGEMENTS) {
      const p = KvCache.create(agent, { ...spec, arrangement }, { label: `lp-${arrangement}` });
      const d = KvCache.create(
        agent,
        { ...spec, arrangement: 'layer' },
        { label: `ld-${arrangement}` },
      );
      fillKvBlocks(p, [2, 3, 9], 21);
      d.connectPeer(agent.name, { label: `lp-${arrangement}` });
      const req = d.makeBlockXfer('READ', [0, 1, 5], agent.name, [2, 3, 9], {
        layers: { start: 1, end: 3 },
      });
      expect(req.totalBytes).toBe(3 * 2 * 2 * 256);
      agent.postXferReq(req);
      await req.wait();
      req.release();
      for (let l = 0; l < 4; l++) {
        const v = d.sliceView(l, 1, 5);
        if (l === 1 || l === 2) expect(v.some((x) => x !== 0)).toBe(true);
        else expect(v.every((x) => x === 0)).toBe(true);
      }
      await d.transferBlocks('READ', [0, 1, 5], agent.name, [2, 3, 9], {
        layers: { start: 0, end: 4 },
      });
      expect(verifyKvBlocks(d, [0, 1, 5], 21, [2, 3, 9])).toBeUndefined();
      for (const bad of [
        { start: 2, end: 2 },
        { start: -1, end: 2 },
        { start: 0, end: 5 },
      ])
        expect(() => d.makeBlockXfer('READ', [0], agent.name, [2], { layers: bad })).toThrow(
          /layers must be a range/,
        );
    }
  });

  it('refuses bad block lists with InvalidParamError and leaves no request behind', () => {
    const { d } = pair();
    d.connectPeer(agent.name, { label: 'prefill' });
    const bad: [number[], number[], RegExp][] = [
      [[0, 1], [0], /equal length/],
      [[], [], /non-empty/],
      [[12], [0], /local block id 12 .* out of range 0..11/],
      [[0], [16], /remote block id 16/],
      [[0], [-1], /remote block id -1/],
      [[0.5], [1], /local block id 0.5/],
      [[1, 1], [2, 3], /local block id 1 appears twice/],
    ];
    for (const [l, r, msg] of bad) {
      expect(() => d.makeBlockXfer('READ', l, agent.name, r)).toThrow(InvalidParamError);
      expect(() => d.makeBlockXfer('READ', l, agent.name, r)).toThrow(msg);
    }
    // Reading one source block twice is fine; writing one target block twice is not.
    d.makeBlockXfer('READ', [1, 2], agent.name, [3, 3]).release();
    expect(() => d.makeBlockXfer('WRITE', [1, 2], agent.name, [3, 3])).toThrow(/appears twice/);
    expect(() => d.makeBlockXfer('COPY' as 'READ', [1], agent.name, [1])).toThrow(/op must be/);
  });

  it('refuses an incompatible peer layout, naming the field', () => {
    const { d } = pair({ blockBytes: 512 });
    expect(() => d.connectPeer(agent.name, { label: 'prefill' })).toThrow(MismatchError);
    expect(() => d.connectPeer(agent.name, { label: 'prefill' })).toThrow(/blockBytes: local 256/);
    expect(d.peerLayout(agent.name)).toBeUndefined();
  });

  it('reports unknown peers and closed caches clearly', () => {
    const { p, d } = pair();
    expect(() => d.connectPeer('nobody')).toThrow(NotFoundError);
    expect(() => d.connectPeer(agent.name, { label: 'missing' })).toThrow(/no KV cache labelled/);
    p.close();
    expect(() => d.connectPeer(agent.name, { label: 'prefill' })).toThrow(NotFoundError);
    d.close();
    d.close();
    expect(() => d.makeBlockXfer('READ', [0], agent.name, [0])).toThrow(NotAllowedError);
    expect(() => KvCache.create(agent, spec, { label: 'x', regions: [] })).toThrow(
      /needs 8 regions/,
    );
    KvCache.create(agent, spec, { label: 'y' });
    expect(() => KvCache.create(agent, spec, { label: 'y' })).toThrow(/labelled 'y' already/);
  });

  it('uses memory given by the caller', async () => {
    const regions = Array.from({ length: 4 }, () => agent.alloc(16 * 2 * 256).buffer);
    const p = KvCache.create(
      agent,
      { ...spec, arrangement: 'layer' },
      { label: 'prefill', regions },
    );
    const d = KvCache.create(agent, { ...spec, blocks: 12 }, { label: 'decode' });
    fillKvBlocks(p, [5], 3);
    expect(regions[1]!.subarray(5 * 512, 5 * 512 + 8).some((x) => x !== 0)).toBe(true);
    d.connectPeer(agent.name, { label: 'prefill' });
    await d.transferBlocks('READ', [0], agent.name, [5], {});
    expect(verifyKvBlocks(d, [0], 3, [5])).toBeUndefined();
    d.close();
    p.close();
  });
});

describe('serving patterns (loopback)', () => {
  it('pull: decode READs and notifies "<request>:<n>"; prefill frees the blocks after n reads', async () => {
    const { p, d } = pair();
    const tracker = new NotifTracker(agent);
    const pPool = new BlockPool(16);
    const dPool = new BlockPool(12);
    const held = pPool.allocate(5);
    fillKvBlocks(p, held, 9);
    const released = releaseAfterReads(tracker, pPool, 'req-1', held, {
      timeoutMs: 30_000,
      reads: 2,
    });
    const half1 = dPool.allocate(3);
    const half2 = dPool.allocate(2);
    d.connectPeer(agent.name, { label: 'prefill' });
    await pullBlocks(d, agent.name, 'req-1', half1, held.subarray(0, 3), { reads: 2, pool: dPool });
    expect(pPool.freeCount).toBe(11); // one read of two: still held
    await pullBlocks(d, agent.name, 'req-1', half2, held.subarray(3), { reads: 2, pool: dPool });
    const r = await released;
    expect(r.reads).toBe(2);
    expect(r.from).toEqual([agent.name, agent.name]);
    expect(pPool.freeCount).toBe(16);
    expect(verifyKvBlocks(d, [...half1, ...half2], 9, held)).toBeUndefined();
    expect(dPool.freeCount).toBe(7);
    tracker.close();
  });

  it('push: prefill WRITEs chunks into decode-allocated blocks; decode waits for all and the last', async () => {
    const { p, d } = pair();
    const tracker = new NotifTracker(agent);
    const pPool = new BlockPool(16);
    const dPool = new BlockPool(12);
    const src = pPool.allocate(7);
    const dst = dPool.allocate(7);
    fillKvBlocks(p, src, 5);
    const arrived = awaitPushedBlocks(tracker, dPool, 'req-2', dst, {
      timeoutMs: 30_000,
      from: agent.name,
    });
    p.connectPeer(agent.name, { label: 'decode' });
    const chunks = await pushBlocks(p, agent.name, 'req-2', src, dst, {
      chunkBlocks: 3,
      pool: pPool,
    });
    expect(chunks).toBe(3);
    expect(pPool.freeCount).toBe(16);
    expect(await arrived).toEqual({ chunks: 3 });
    expect(verifyKvBlocks(d, dst, 5, src)).toBeUndefined();
    expect(dPool.freeCount).toBe(5);
    tracker.close();
  });

  it('chunk notifications that come before the wait are kept, in any order', async () => {
    const { p } = pair();
    const tracker = new NotifTracker(agent);
    p.connectPeer(agent.name, { label: 'decode' });
    const s = new PushSession(p, agent.name, 'early');
    s.chunk([0], [0]);
    s.chunk([1, 2], [1, 2]);
    await s.finish();
    // Out of order, before anyone waits; a last non-KV message marks that all have landed.
    const landed = new Promise((r) => tracker.once('other', r));
    for (const m of ['x:last:3', 'x:2', 'x:0', 'x:1', 'sentinel']) agent.genNotif(agent.name, m);
    await landed;
    expect(tracker.pending).toBe(2);
    await expect(tracker.waitChunks('x', { timeoutMs: 30_000 })).resolves.toEqual({ chunks: 3 });

    await expect(tracker.waitChunks('early', { timeoutMs: 30_000 })).resolves.toEqual({
      chunks: 2,
    });
    expect(tracker.pending).toBe(0);
    tracker.close();
  });

  it('a wait that times out frees the blocks and names what arrived', async () => {
    const tracker = new NotifTracker(agent);
    const pool = new BlockPool(8);
    const ids = pool.allocate(4);
    agent.genNotif(agent.name, 'lost:0');
    const err = await awaitPushedBlocks(tracker, pool, 'lost', ids, { timeoutMs: 300 }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(CanceledError);
    expect(err.message).toMatch(
      /timed out after 300 ms with 1 chunk notification\(s\), no last notification/,
    );
    expect(pool.freeCount).toBe(8);
    const held = pool.allocate(2);
    const err2 = await releaseAfterReads(tracker, pool, 'never', held, { timeoutMs: 200 }).catch(
      (e) => e,
    );
    expect(err2).toBeInstanceOf(CanceledError);
    expect(pool.freeCount).toBe(8);
    tracker.close();
  });

  it('bad wait options are refused before any block is freed', async () => {
    const tracker = new NotifTracker(agent);
    const pool = new BlockPool(4);
    const ids = pool.allocate(2);
    await expect(releaseAfterReads(tracker, pool, 'r', ids, { timeoutMs: -1 })).rejects.toThrow(
      InvalidParamError,
    );
    await expect(awaitPushedBlocks(tracker, pool, '', ids, { timeoutMs: 10 })).rejects.toThrow(
      InvalidParamError,
    );
    expect(pool.freeCount).toBe(2);
    tracker.close();
  });

  it('passes other notifications on and refuses a second wait for one request', async () => {
    const tracker = new NotifTracker(agent);
    const other = new Promise<string>((r) =>
      tracker.once('other', (_a, m) => r(Buffer.from(m).toString())),
    );
    agent.genNotif(agent.name, 'not a kv notification');
    expect(await other).toBe('not a kv notification');
    const w = tracker.waitReads('r', { timeoutMs: 30_000 });
    expect(() => tracker.waitReads('r', { timeoutMs: 1000 })).toThrow(/in progress already/);
    expect(() => tracker.waitReads('q', { timeoutMs: 0 })).toThrow(/timeoutMs/);
    tracker.close();
    await expect(w).rejects.toThrow(CanceledError);
  });

  it('a failed push aborts, frees the prefill blocks and throws', async () => {
    const { p } = pair();
    const pool = new BlockPool(16);
    const src = pool.allocate(2);
    await expect(pushBlocks(p, agent.name, 'bad', src, [0, 99], { pool })).rejects.toThrow();
    expect(pool.freeCount).toBe(16);
  });
});
