// Prefill and decode in two processes over the TCP backend (loopback):
// both serving patterns, partial and non-contiguous block lists, an
// incompatible layout, and peers that die mid-way.
import { randomBytes } from 'node:crypto';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { CanceledError, MismatchError, RemoteDisconnectError } from '../../src/errors.js';
import {
  BlockPool,
  KvCache,
  NotifTracker,
  awaitPushedBlocks,
  pullBlocks,
  pushBlocks,
  type KvLayoutSpec,
} from '../../src/kv/index.js';
import { fillKvBlocks, verifyKvBlocks } from '../../testing/pattern.js';
import { KvPeer } from './kv-peer.js';

const PARAMS = { port: '0', timeout_ms: '5000', connect_timeout_ms: '5000' };
const WAIT = 30_000;
const spec: KvLayoutSpec = {
  layers: 4,
  blocks: 24,
  blockBytes: 4096,
  elementSize: 2,
  arrangement: 'layer-kv',
  model: 'test-model/bf16',
};

function name(role: string): string {
  return `kv-${role}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

let agent: Agent;
let cache: KvCache;
let pool: BlockPool;
let tracker: NotifTracker;
let peer: KvPeer;

async function setUp(local: Partial<KvLayoutSpec> = {}, remote: Partial<KvLayoutSpec> = {}) {
  agent = await Agent.create({ name: name('local'), backends: [{ type: 'TCP', params: PARAMS }] });
  const l = { ...spec, blocks: 16, ...local };
  cache = KvCache.create(agent, l);
  pool = new BlockPool(l.blocks);
  tracker = new NotifTracker(agent);
  peer = new KvPeer();
  const peerName = name('peer');
  const { md } = await peer.send<{ md: string }>({
    cmd: 'init',
    name: peerName,
    spec: { ...spec, ...remote },
    params: PARAMS,
  });
  return { peerName, md: Buffer.from(md, 'base64') };
}

afterEach(async () => {
  tracker?.close();
  cache?.close();
  await agent?.close();
  await peer?.close();
});

describe('pull (vLLM): decode READs from prefill in another process', () => {
  let peerName: string;
  beforeEach(async () => {
    const s = await setUp({ arrangement: 'contiguous' });
    peerName = s.peerName;
    expect(cache.loadPeer(s.md)).toBe(peerName);
  });

  it('moves non-contiguous blocks; prefill frees them after the notification', async () => {
    const { ids: all } = await peer.send<{ ids: number[] }>({ cmd: 'alloc', n: 12 });
    const held = [all[1]!, all[3]!, all[4]!, all[5]!, all[9]!, all[11]!];
    await peer.send({ cmd: 'fill', ids: held, seed: 17 });
    await peer.send({ cmd: 'holdForReads', req: 'req-17', ids: held, timeoutMs: WAIT });
    const local = pool.allocate(6);
    const dst = [local[5]!, local[0]!, local[2]!, local[1]!, local[4]!, local[3]!];
    await pullBlocks(cache, peerName, 'req-17', dst, held, { pool });
    expect(verifyKvBlocks(cache, dst, 17, held)).toBeUndefined();
    const r = await peer.send<{
      ok: boolean;
      freeCount: number;
      detail: { reads: number; from: string[] };
    }>({
      cmd: 'result',
      req: 'req-17',
    });
    expect(r.ok).toBe(true);
    expect(r.detail).toEqual({ reads: 1, from: [agent.name] });
    expect(r.freeCount).toBe(24 - 12 + 6);
    expect(pool.freeCount).toBe(10);
  });

  it('a partial list in two reads: prefill waits for both ("<request>:2")', async () => {
    const { ids } = await peer.send<{ ids: number[] }>({ cmd: 'alloc', n: 8 });
    await peer.send({ cmd: 'fill', ids, seed: 3 });
    await peer.send({ cmd: 'holdForReads', req: 'r2', ids, timeoutMs: WAIT });
    const a = pool.allocate(5);
    await pullBlocks(cache, peerName, 'r2', a, ids.slice(0, 5), { reads: 2, pool });
    expect((await peer.send<{ pending: number }>({ cmd: 'stats' })).freeCount).toBe(16);
    const b = pool.allocate(3);
    await pullBlocks(cache, peerName, 'r2', b, ids.slice(5), { reads: 2, pool });
    const r = await peer.send<{ ok: boolean; freeCount: number }>({ cmd: 'result', req: 'r2' });
    expect(r).toMatchObject({ ok: true, freeCount: 24 });
    expect(verifyKvBlocks(cache, [...a, ...b], 3, ids)).toBeUndefined();
  });

  it('prefill dying mid-read fails the pull and frees the decode blocks', async () => {
    const { ids } = await peer.send<{ ids: number[] }>({ cmd: 'alloc', n: 10 });
    await peer.send({ cmd: 'holdForReads', req: 'dies', ids, timeoutMs: WAIT });
    const local = pool.allocate(10);
    await peer.freeze(); // the target's engine cannot serve: the READ stays in flight
    const pulled = pullBlocks(cache, peerName, 'dies', local, ids, { pool });
    const outcome = pulled.then(
      () => 'done',
      (e) => e,
    );
    const started = Date.now();
    await peer.kill();
    const err = await outcome;
    expect(err).toBeInstanceOf(RemoteDisconnectError);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(pool.freeCount).toBe(16);
  }, 60_000);
});

describe('push (SGLang): prefill WRITEs into blocks decode allocated', () => {
  let peerName: string;
  beforeEach(async () => {
    const s = await setUp({}, { arrangement: 'layer' });
    peerName = s.peerName;
    cache.loadPeer(s.md);
  });

  it('chunks of non-contiguous blocks, one notification each and a last one', async () => {
    const { ids: dst } = await peer.send<{ ids: number[] }>({ cmd: 'alloc', n: 9 });
    const scattered = [dst[8]!, dst[0]!, dst[1]!, dst[2]!, dst[6]!, dst[4]!, dst[5]!];
    await peer.send({
      cmd: 'awaitPushed',
      req: 'p1',
      ids: scattered,
      from: agent.name,
      timeoutMs: WAIT,
    });
    const src = pool.allocate(7);
    fillKvBlocks(cache, src, 99);
    const chunks = await pushBlocks(cache, peerName, 'p1', src, scattered, {
      chunkBlocks: 3,
      pool,
    });
    expect(chunks).toBe(3);
    expect(pool.freeCount).toBe(16);
    const r = await peer.send<{ ok: boolean; detail: unknown; freeCount: number }>({
      cmd: 'result',
      req: 'p1',
    });
    expect(r).toMatchObject({ ok: true, detail: { chunks: 3 }, freeCount: 15 });
    const c = await peer.send<{ mismatch: string | null }>({
      cmd: 'check',
      ids: scattered,
      seed: 99,
      pattern: Array.from(src),
    });
    expect(c.mismatch).toBeNull();
  });

  it('decode dying mid-push fails it and frees the prefill blocks', async () => {
    const { ids: dst } = await peer.send<{ ids: number[] }>({ cmd: 'alloc', n: 16 });
    const src = pool.allocate(16);
    await peer.freeze();
    const pushed = pushBlocks(cache, peerName, 'p2', src, dst, { chunkBlocks: 4, pool }).then(
      () => 'done',
      (e) => e,
    );
    await peer.kill();
    expect(await pushed).toBeInstanceOf(RemoteDisconnectError);
    expect(pool.freeCount).toBe(16);
  }, 60_000);

  it('prefill dying after one chunk: decode times out and frees its blocks', async () => {
    // Here this process is decode and the child is prefill.
    await peer.send({ cmd: 'load', md: Buffer.from(cache.getMetadata()).toString('base64') });
    const dst = pool.allocate(6);
    // The child answers once its chunk is written; the notification may land before the wait.
    await peer.send({
      cmd: 'pushChunk',
      peer: agent.name,
      req: 'p3',
      local: [0, 1],
      remote: [dst[0]!, dst[1]!],
    });
    await peer.kill();
    const err = await awaitPushedBlocks(tracker, pool, 'p3', dst, {
      from: peerName,
      timeoutMs: 5000,
    }).then(
      () => 'done',
      (e) => e,
    );
    // Decode never connected to prefill, so in general nothing tells it of the death: the
    // timeout does (a backend that did notice would end it with RemoteDisconnectError).
    expect(err).toBeInstanceOf(
      err instanceof RemoteDisconnectError ? RemoteDisconnectError : CanceledError,
    );
    if (err instanceof CanceledError)
      expect(String(err.message)).toMatch(
        /'p3': timed out after 5000 ms with 1 chunk notification\(s\), no last/,
      );
    expect(pool.freeCount).toBe(16);
  }, 60_000);
});

describe('a sender that dies while decode is connected to it', () => {
  it('ends the wait at once with RemoteDisconnectError and frees the blocks', async () => {
    const s = await setUp();
    cache.loadPeer(s.md);
    await agent.makeConnection(s.peerName);
    await peer.send({ cmd: 'load', md: Buffer.from(cache.getMetadata()).toString('base64') });
    const dst = pool.allocate(4);
    const started = Date.now();
    const waited = awaitPushedBlocks(tracker, pool, 'p4', dst, {
      from: s.peerName,
      timeoutMs: 120_000,
    }).then(
      () => 'done',
      (e) => e,
    );
    await peer.send({
      cmd: 'pushChunk',
      peer: agent.name,
      req: 'p4',
      local: [0],
      remote: [dst[0]!],
    });
    await peer.kill();
    const err = await waited;
    expect(err).toBeInstanceOf(RemoteDisconnectError);
    expect(String(err.message)).toMatch(/'p4': '.*' disconnected before it finished/);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(pool.freeCount).toBe(16);
  }, 150_000);
});

describe('compatibility across processes', () => {
  it('refuses a peer whose layout differs in block size, naming the field', async () => {
    const s = await setUp({}, { blockBytes: 8192 });
    expect(() => cache.loadPeer(s.md)).toThrow(MismatchError);
    expect(() => cache.connectPeer(s.peerName)).toThrow(/blockBytes: local 4096, '.*' 8192/);
    expect(cache.peerLayout(s.peerName)).toBeUndefined();
  });

  it('refuses a peer of another model or element size', async () => {
    const s = await setUp({}, { elementSize: 4, model: 'other/fp32' });
    expect(() => cache.loadPeer(s.md)).toThrow(/elementSize: local 2, .* 4; model/);
  });

  it('says so when the metadata carries the layout but not the regions', async () => {
    const s = await setUp();
    const { md } = await peer.send<{ md: string }>({ cmd: 'labelOnlyMd' });
    expect(() => cache.loadPeer(Buffer.from(md, 'base64'))).toThrow(
      /KV regions of '.*' are not in its loaded metadata/,
    );
    // The full partial metadata fixes it.
    expect(cache.loadPeer(s.md)).toBe(s.peerName);
  });

  it('finds the layout in full metadata loaded by the agent (as discovery does)', async () => {
    const s = await setUp();
    const { md } = await peer.send<{ md: string }>({ cmd: 'fullMd' });
    expect(agent.loadRemoteMD(Buffer.from(md, 'base64'))).toBe(s.peerName);
    const { ids } = await peer.send<{ ids: number[] }>({ cmd: 'alloc', n: 2 });
    await peer.send({ cmd: 'fill', ids, seed: 11 });
    const local = pool.allocate(2);
    // No connectPeer: the first transfer reads the layout from the loaded metadata.
    await cache.transferBlocks('READ', local, s.peerName, ids);
    expect(cache.peerLayout(s.peerName)?.blocks).toBe(24);
    expect(verifyKvBlocks(cache, local, 11, ids)).toBeUndefined();
  });

  it('accepts other block counts and arrangements', async () => {
    const s = await setUp({ arrangement: 'layer' }, { blocks: 40, arrangement: 'contiguous' });
    cache.loadPeer(s.md);
    expect(cache.peerLayout(s.peerName)?.blocks).toBe(40);
    const { ids } = await peer.send<{ ids: number[] }>({ cmd: 'alloc', n: 3 });
    await peer.send({ cmd: 'fill', ids, seed: 5 });
    const local = pool.allocate(3);
    await cache.transferBlocks('READ', local, s.peerName, ids);
    expect(verifyKvBlocks(cache, local, 5, ids)).toBeUndefined();
  });
});
