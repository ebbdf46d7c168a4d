/**
 * A peer that missed several registrations of another agent (its watch was
 * down) applies them as partial metadata from the `update` key's chain
 * (plugins/etcd/update.ts), so the requests it prepared stay valid; one that
 * missed more than the chain holds loads the full metadata (a new
 * generation: those requests fail, as they must). Agent processes and a
 * real etcd on 127.0.0.1 (test/etcd/etcd-server.ts).
 */
import { Etcd3 } from 'etcd3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { UPDATE_CHAIN_LINKS } from '../../plugins/etcd/update.js';
import { EtcdServer, skipWithoutEtcd } from '../etcd/etcd-server.js';
import { joined, patternSha256, spawnEtcdAgent } from '../etcd/etcd-agents.js';
import type { AgentProcess } from './agent-process.js';

const B_METADATA = '/nixl/agents/b/metadata';
let server: EtcdServer;
const procs: AgentProcess[] = [];

beforeEach(async () => {
  server = await EtcdServer.start();
});
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.close()));
  await server.stop();
});

function start(name: string, ttlSeconds: number): AgentProcess {
  const p = spawnEtcdAgent(name, { endpoints: server.endpoint, ttlSeconds });
  procs.push(p);
  return p;
}

/** A raw etcd client for one call. */
async function withEtcd<T>(fn: (raw: Etcd3) => Promise<T>): Promise<T> {
  const raw = new Etcd3({ hosts: server.endpoint });
  try {
    return await fn(raw);
  } finally {
    raw.close();
  }
}

/** The lease and mod_revision of b's `metadata` key. */
async function bMetadata(): Promise<{ lease?: string; rev: number }> {
  const kv = await withEtcd((raw) => raw.get(B_METADATA).exec());
  return { lease: kv.kvs[0]?.lease, rev: Number(kv.kvs[0]?.mod_revision ?? 0) };
}

async function until(what: string, cond: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * 'a' prepares a READ of b's first region, then is stopped; etcd restarts
 * (cutting a's watch) and b registers `missed` more regions, each landing
 * in etcd on its own; etcd's history is compacted (a's watch cannot replay
 * them) and a resumes. Returns whether a's prepared request still works,
 * after checking that a reads b's last region.
 */
async function missRegistrations(missed: number): Promise<'valid' | string> {
  // A TTL longer than the pause keeps a's lease alive.
  const a = start('a', 30);
  const b = start('b', 2);
  await Promise.all([joined(a, 'b'), joined(b, 'a')]);
  const first = await b.request({ cmd: 'register', size: 64 << 10, seed: 40 }, 'registered');
  await a.waitEv('peer:update', 'b');
  await a.request({ cmd: 'prep', peer: 'b', addr: first.addr, len: first.len }, 'prepped');

  const before = await bMetadata();
  process.kill(a.pid, 'SIGSTOP');
  let resumedAt = 0;
  let last: { addr: string; len: number; seed: number } | undefined;
  try {
    await server.kill();
    await server.start();
    await until('b renewing its lease', async () => (await bMetadata()).lease !== before.lease);
    for (let i = 0; i < missed; i++) {
      const rev = (await bMetadata()).rev;
      const seed = 50 + i;
      const r = await b.request({ cmd: 'register', size: 16 << 10, seed }, 'registered');
      last = { addr: r.addr as string, len: r.len as number, seed };
      // One registration per transaction: the next waits for this one to land.
      await until(`registration ${i + 1} in etcd`, async () => (await bMetadata()).rev > rev);
    }
    await withEtcd(async (raw) => {
      const { header } = await raw.kv.range({ key: Buffer.from('/') });
      await raw.kv.compact({ revision: header.revision, physical: true });
    });
  } finally {
    resumedAt = Date.now();
    process.kill(a.pid, 'SIGCONT');
  }

  await a.waitFor(
    (e) => e.ev === 'peer:update' && e.peer === 'b' && (e.t as number) >= resumedAt,
    "b's registrations",
  );
  const read = await a.request(
    { cmd: 'read', peer: 'b', addr: last!.addr, len: last!.len },
    'read',
  );
  expect(read.sha256).toBe(patternSha256(last!.len, last!.seed));
  expect(a.events.filter((e) => e.ev === 'peer:leave')).toEqual([]);
  try {
    const again = await a.request({ cmd: 'repost' }, 'reposted');
    expect(again.sha256).toBe(patternSha256(first.len as number, 40));
    return 'valid';
  } catch (err) {
    return (err as Error).message;
  }
}

describe.skipIf(skipWithoutEtcd)(
  'registrations a peer missed, through etcd',
  { timeout: 120_000 },
  () => {
    it('a peer that missed two separate registrations applies both as partial metadata: its prepared request stays valid', async () => {
      expect(await missRegistrations(2)).toBe('valid');
    });

    it(`one that missed ${UPDATE_CHAIN_LINKS} (the chain's length) still does`, async () => {
      expect(await missRegistrations(UPDATE_CHAIN_LINKS)).toBe('valid');
    });

    it(`one that missed ${UPDATE_CHAIN_LINKS + 1} loads the full metadata: its prepared request fails (a new generation)`, async () => {
      expect(await missRegistrations(UPDATE_CHAIN_LINKS + 1)).toMatch(
        /NIXL_ERR_NOT_FOUND .*reloaded since this was prepared/,
      );
    });
  },
);
