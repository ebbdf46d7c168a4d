// The KV block manager over all the tiers this build has: this process's
// DRAM, a peer process's DRAM over TCP (127.0.0.1), and a FILE tier (a
// temporary file registered by descriptor, through the POSIX backend).
// Skipped where the build has no POSIX backend.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, ftruncateSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { NixlError } from '../../src/errors.js';
import { KvBlockManager, blockHash, type BlockHash } from '../../src/kv/index.js';
import { PeerProcess } from '../../testing/peer-harness.js';

const PARAMS = { port: '0', timeout_ms: '5000', connect_timeout_ms: '5000' };
const BB = 64 * 1024;
const FILE_BLOCKS = 8;

function sha(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

let agent: Agent;
let peer: PeerProcess;
let dir: string;
let fd: number;
let mgr: KvBlockManager | undefined;
let posix: string | undefined; // why the POSIX backend is missing, if it is

beforeEach(async () => {
  const name = `kvbm-file-${process.pid}-${randomBytes(3).toString('hex')}`;
  agent = await Agent.create({ name, backends: [{ type: 'TCP', params: PARAMS }] });
  try {
    await agent.createBackend('POSIX', {});
    posix = undefined;
  } catch (err) {
    posix = String(err);
    return;
  }
  peer = new PeerProcess();
  const r = await peer.send(
    {
      cmd: 'init',
      backend: 'TCP',
      params: PARAMS,
      plugins: [],
      size: 4 * BB,
      name: `${name}-peer`,
    },
    30_000,
  );
  if (r.error) throw new Error(r.error);
  const peerName = agent.loadRemoteMD(Buffer.from(r.md as string, 'base64'));
  dir = mkdtempSync(join(tmpdir(), 'nixl-kvbm-file-'));
  fd = openSync(join(dir, 'tier'), 'w+');
  ftruncateSync(fd, FILE_BLOCKS * BB);
  agent.registerMem([{ addr: 0n, len: FILE_BLOCKS * BB, devId: fd }], { memType: 'FILE' });
  mgr = KvBlockManager.create(agent, {
    blockBytes: BB,
    tiers: [
      { name: 'dram', capacity: 4 },
      { name: 'peer', agent: peerName, regions: agent.getRemoteRegions(peerName) },
      {
        name: 'file',
        memType: 'FILE',
        agent: agent.name,
        regions: [{ addr: 0n, len: FILE_BLOCKS * BB, devId: fd }],
      },
    ],
  });
}, 60_000);

afterEach(async () => {
  mgr?.close();
  mgr = undefined;
  await agent?.close();
  await peer?.close();
  if (fd !== undefined) closeSync(fd);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function fileSlotHash(slot: number): string {
  const buf = Buffer.alloc(BB);
  const n = readSync(fd, buf, 0, BB, slot * BB);
  return sha(buf.subarray(0, n));
}

function chain(n: number, salt: number): { hashes: BlockHash[]; data: Buffer[] } {
  const hashes: BlockHash[] = [];
  let parent: BlockHash | null = null;
  for (let i = 0; i < n; i++) hashes.push((parent = blockHash(parent, [salt, i])));
  return { hashes, data: hashes.map(() => randomBytes(BB)) };
}

describe('KvBlockManager over DRAM, a peer DRAM tier and a FILE tier', () => {
  it('offloads down to the file and onboards back from it, verified by hash', async (ctx) => {
    if (posix) ctx.skip(`no POSIX backend in this build: ${posix}`);
    const m = mgr!;
    const { hashes, data } = chain(16, 1);
    for (let i = 0; i < 16; i++) await m.put(hashes[i]!, i ? hashes[i - 1]! : null, data[i]!);
    expect(m.stats().tiers.map((t) => t.used)).toEqual([4, 4, 8]);
    for (let i = 0; i < 8; i++) {
      const at = m.locate(hashes[i]!)!;
      expect(at.tier).toBe('file');
      expect(fileSlotHash(at.slot)).toBe(sha(data[i]!));
    }
    // Blocks 0..3 come back from the file (the file took the peer's evictions through staging).
    const r = await m.onboard(hashes.slice(0, 4));
    expect(r).toMatchObject({ blocks: 4, found: { file: 4 } });
    for (let i = 0; i < 4; i++) expect(sha(m.view(hashes[i]!))).toBe(sha(data[i]!));
    const s = m.stats();
    expect(s.tiers[2]!.onboard.blocks).toBe(4);
    expect(s.tiers[2]!.in.blocks).toBe(8 + 4); // 8 offloaded, then 4 more to make room
    expect(s.tiers[2]!.dropped).toBe(4);
    expect(s.tiers.reduce((n, t) => n + t.used, 0)).toBe(16 - 4);
  }, 60_000);

  it('a file truncated under the tier fails the onboard and leaves the blocks indexed in it', async (ctx) => {
    if (posix) ctx.skip(`no POSIX backend in this build: ${posix}`);
    const m = mgr!;
    const { hashes, data } = chain(12, 2);
    for (let i = 0; i < 12; i++) await m.put(hashes[i]!, i ? hashes[i - 1]! : null, data[i]!);
    const inFile = hashes.filter((h) => m.locate(h)!.tier === 'file');
    expect(inFile).toEqual(hashes.slice(0, 4));
    // Room in the top, so the onboard writes nothing to the file (an eviction into it would
    // extend it again) and only reads from it.
    expect(m.remove(hashes.slice(8))).toBe(4);
    const before = m.stats().tiers.map((t) => t.used);
    expect(before).toEqual([0, 4, 4]);
    // Removing the file would not do: an open descriptor keeps its bytes. Truncating does.
    ftruncateSync(fd, 0);
    const err = await m.onboard(inFile).then(
      () => 'done',
      (e: unknown) => e,
    );
    expect(err, String(err)).toBeInstanceOf(NixlError);
    for (const h of inFile) expect(m.locate(h)!.tier).toBe('file');
    const after = m.stats();
    expect(after.tiers.map((t) => t.used)).toEqual(before);
    expect(after.tiers[2]!.errors).toBeGreaterThan(0);
    expect(after.tiers[2]!.onboard.blocks).toBe(0);
    // The top slots the READ had taken are free again: four puts evict nothing.
    const more = chain(4, 3);
    for (let i = 0; i < 4; i++) await m.put(more.hashes[i]!, null, more.data[i]!);
    expect(m.stats().tiers.map((t) => t.used)).toEqual([4, 4, 4]);
    void data;
  }, 60_000);
});
