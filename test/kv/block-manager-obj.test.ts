// The KV block manager over every tier: this process's DRAM, a peer
// process's DRAM over TCP (127.0.0.1), a FILE tier (POSIX backend, a
// temporary file) and an OBJ tier (OBJ backend, one object a slot, on an
// S3-API server (s3rver) started here on 127.0.0.1 and stopped by its pid).
// It needs backends/obj and test/s3 (branch wt-obj) and the POSIX backend
// (wt-file): where the build lacks any of them the suite is skipped.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { NixlError } from '../../src/errors.js';
import { KvBlockManager, blockHash, type BlockHash } from '../../src/kv/index.js';
import { PeerProcess } from '../../testing/peer-harness.js';

// The S3 helpers come with the OBJ backend's branch; loaded by a computed name so that this
// file typechecks (and skips) on a tree without them.
interface S3ServerLike {
  readonly pid: number | undefined;
  params(bucket: string): Record<string, string>;
  start(): Promise<void>;
  kill(): Promise<void>;
  stop(): Promise<void>;
}
interface S3Helpers {
  S3Server: { start(opts: { buckets: string[] }): Promise<S3ServerLike> };
  s3Client(server: S3ServerLike): { destroy(): void };
  getObject(c: unknown, bucket: string, key: string): Promise<Uint8Array>;
}
async function loadS3(): Promise<S3Helpers | string> {
  try {
    const names = ['../s3/s3-server.js', '../s3/s3-objects.js'];
    const [a, b] = await Promise.all(names.map((n) => import(n) as Promise<object>));
    const probe = await Agent.create({ name: `kvbm-obj-probe-${process.pid}` });
    const plugins = probe.getAvailPlugins();
    await probe.close();
    for (const p of ['POSIX', 'OBJ'])
      if (!plugins.includes(p)) return `no ${p} backend in this build`;
    return { ...a, ...b } as S3Helpers;
  } catch (err) {
    return `no S3 test helpers here (${String(err)})`;
  }
}
const s3 = await loadS3();
const skip = typeof s3 === 'string';
const S3 = s3 as S3Helpers;

const PARAMS = { port: '0', timeout_ms: '5000', connect_timeout_ms: '5000' };
const BB = 64 * 1024;
const BUCKET = 'nixl-kvbm';
const FILE_BLOCKS = 4;
const OBJ_BLOCKS = 4;

function sha(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

let server: S3ServerLike;
let agent: Agent;
let peer: PeerProcess;
let dir: string;
let fd: number;
let mgr: KvBlockManager;
const objKey = (run: string, i: number) => `kvbm/${run}/${i}`;
let run: string;

beforeAll(async () => {
  if (!skip) server = await S3.S3Server.start({ buckets: [BUCKET] });
}, 60_000);
afterAll(() => server?.stop());

beforeEach(async () => {
  if (skip) return;
  if (!server.pid) await server.start();
  run = randomBytes(4).toString('hex');
  const name = `kvbm-obj-${process.pid}-${run}`;
  agent = await Agent.create({
    name,
    backends: [
      { type: 'TCP', params: PARAMS },
      { type: 'POSIX', params: {} },
      { type: 'OBJ', params: { ...server.params(BUCKET), request_timeout_ms: '5000' } },
    ],
  });
  peer = new PeerProcess();
  const r = await peer.send(
    {
      cmd: 'init',
      backend: 'TCP',
      params: PARAMS,
      plugins: [],
      size: 2 * BB,
      name: `${name}-peer`,
    },
    30_000,
  );
  if (r.error) throw new Error(r.error);
  const peerName = agent.loadRemoteMD(Buffer.from(r.md as string, 'base64'));
  dir = mkdtempSync(join(tmpdir(), 'nixl-kvbm-obj-'));
  fd = openSync(join(dir, 'tier'), 'w+');
  ftruncateSync(fd, FILE_BLOCKS * BB);
  const fileRegions = [{ addr: 0n, len: FILE_BLOCKS * BB, devId: fd }];
  agent.registerMem(fileRegions, { memType: 'FILE' });
  const objRegions = Array.from({ length: OBJ_BLOCKS }, (_, i) => ({
    addr: 0n,
    len: BB,
    devId: i + 1,
    metaInfo: Buffer.from(objKey(run, i)),
  }));
  agent.registerMem(objRegions, { memType: 'OBJ' });
  mgr = KvBlockManager.create(agent, {
    blockBytes: BB,
    tiers: [
      { name: 'dram', capacity: 2 },
      { name: 'peer', agent: peerName, regions: agent.getRemoteRegions(peerName) },
      { name: 'file', memType: 'FILE', agent: agent.name, regions: fileRegions },
      { name: 'obj', memType: 'OBJ', agent: agent.name, regions: objRegions },
    ],
  });
}, 60_000);

afterEach(async () => {
  if (skip) return;
  mgr?.close();
  await agent?.close();
  await peer?.close();
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
});

function chain(n: number, salt: number): { hashes: BlockHash[]; data: Buffer[] } {
  const hashes: BlockHash[] = [];
  let parent: BlockHash | null = null;
  for (let i = 0; i < n; i++) hashes.push((parent = blockHash(parent, [salt, i])));
  return { hashes, data: hashes.map(() => randomBytes(BB)) };
}

describe.skipIf(skip)('KvBlockManager over DRAM, peer DRAM, FILE and OBJ', () => {
  it('offloads down to the object store and onboards back from every tier, verified by hash', async () => {
    const { hashes, data } = chain(12, 1);
    for (let i = 0; i < 12; i++) await mgr.put(hashes[i]!, i ? hashes[i - 1]! : null, data[i]!);
    expect(mgr.stats().tiers.map((t) => t.used)).toEqual([2, 2, 4, 4]);
    // The object tier's blocks, read straight from the store.
    const c = S3.s3Client(server);
    for (let i = 0; i < 4; i++) {
      const at = mgr.locate(hashes[i]!)!;
      expect(at.tier).toBe('obj');
      expect(sha(await S3.getObject(c, BUCKET, objKey(run, at.slot)))).toBe(sha(data[i]!));
    }
    c.destroy();
    // One block from each lower tier (wherever the moves before it left them), each verified
    // in the top tier.
    for (const tier of ['obj', 'file', 'peer']) {
      const h = hashes.find((x) => mgr.locate(x)?.tier === tier)!;
      expect(h, tier).toBeDefined();
      const r = await mgr.onboard([h]);
      expect(r).toMatchObject({ blocks: 1, found: { [tier]: 1 } });
      expect(sha(mgr.view(h))).toBe(sha(data[hashes.indexOf(h)]!));
    }
    const s = mgr.stats();
    for (const t of ['peer', 'file', 'obj']) {
      const ts = s.tiers.find((x) => x.name === t)!;
      expect(ts.onboard.blocks, t).toBe(1);
      expect(ts.onboard.bytes, t).toBe(BB);
    }
    // Every block still indexed still has its bytes wherever it is: onboard all that remain.
    const left = hashes.filter((h) => mgr.locate(h));
    for (const h of left) {
      await mgr.onboard([h]);
      expect(sha(mgr.view(h))).toBe(sha(data[hashes.indexOf(h)]!));
    }
  }, 120_000);

  it('a store killed under the tier fails the onboard in bounded time; the blocks stay in it', async () => {
    const { hashes, data } = chain(12, 2);
    for (let i = 0; i < 12; i++) await mgr.put(hashes[i]!, i ? hashes[i - 1]! : null, data[i]!);
    const inObj = hashes.filter((h) => mgr.locate(h)!.tier === 'obj');
    expect(inObj.length).toBe(4);
    // Room in the top, so the onboard only reads from the store.
    expect(mgr.remove(hashes.slice(10))).toBe(2);
    const before = mgr.stats().tiers.map((t) => t.used);
    await server.kill();
    const t0 = Date.now();
    const err = await mgr.onboard(inObj.slice(0, 2)).then(
      () => 'done',
      (e: unknown) => e,
    );
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(err, String(err)).toBeInstanceOf(NixlError);
    for (const h of inObj) expect(mgr.locate(h)!.tier).toBe('obj');
    const after = mgr.stats();
    expect(after.tiers.map((t) => t.used)).toEqual(before);
    expect(after.tiers[3]!.onboard.blocks).toBe(0);
    expect(after.tiers[3]!.errors).toBeGreaterThan(0);
    // Back up (same port, same directory): the same blocks onboard with their bytes.
    await server.start();
    const r = await mgr.onboard(inObj.slice(0, 2));
    expect(r.blocks).toBe(2);
    for (let i = 0; i < 2; i++)
      expect(sha(mgr.view(inObj[i]!))).toBe(sha(data[hashes.indexOf(inObj[i]!)]!));
  }, 120_000);
});
