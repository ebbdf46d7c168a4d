// The TCP engine's same-host shared memory (native/tcp/shared_mem.cc,
// FRAMES.md "Shared memory"): memory from the backend's alloc, registered
// whole, is mapped by a same-host peer, which then copies into and out of it
// itself. Each test has one agent here and one in a child process; data is
// checked by hash on the process that owns it.
import { createHash } from 'node:crypto';
import { closeSync, ftruncateSync, openSync, readFileSync } from 'node:fs';

import { afterEach, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import type { TcpBackend } from '../../backends/tcp/index.js';
import type { ShmCounters } from '../../backends/tcp/index.js';
import { PeerProcess } from '../../testing/peer-harness.js';
import { fillPattern } from '../../testing/pattern.js';
import { waitStopped } from '../proc-stat.js';

const REGION = 1 << 20; // the child's region: NOTIF_WINDOW, so a notification hashes all of it
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const PARAMS = { port: '0', same_host: 'auto', timeout_ms: '5000' };

function tcpOf(agent: Agent): TcpBackend {
  return agent.backends.find((b) => b.type === 'TCP') as TcpBackend;
}

/** Polls until `pred` holds (bounded): the map request goes in the background. */
async function until(what: string, pred: () => boolean | Promise<boolean>, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const peers: PeerProcess[] = [];
const agents: Agent[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) {
    p.signal('SIGCONT');
    await p.send({ cmd: 'close' }, 5_000).catch(() => {});
    p.signal('SIGKILL');
    await p.waitForExit(10_000).catch(() => {});
  }
  for (const a of agents.splice(0)) await a.close();
});

async function child(params: Record<string, string>, name: string, allocBackend?: string) {
  const peer = new PeerProcess();
  peers.push(peer);
  const init = await peer.send(
    { cmd: 'init', backend: 'TCP', params, plugins: [], size: REGION, name, allocBackend },
    30_000,
  );
  return { peer, md: Buffer.from(init.md!, 'base64'), addr: BigInt(init.addr!) };
}

async function localAgent(name: string, params: Record<string, string> = PARAMS) {
  const agent = await Agent.create({ name, backends: [{ type: 'TCP', params }] });
  agents.push(agent);
  return agent;
}

/** The child posts [localOff, +len) of its region to `addr` here and waits for the end. */
async function childXfer(
  peer: PeerProcess,
  op: 'READ' | 'WRITE',
  addr: bigint,
  len: number,
  localOff = 0,
) {
  const posted = await peer.send({
    cmd: 'post',
    op,
    peer: 'target',
    localOff,
    remoteAddr: addr.toString(),
    len,
  });
  await peer.send({ cmd: 'wait', xfer: posted.xfer!, timeoutMs: 10_000 });
}

const shmOf = async (peer: PeerProcess): Promise<ShmCounters> =>
  (await peer.send({ cmd: 'shmCounters' })).shm as unknown as ShmCounters;

describe('TCP same-host shared memory', () => {
  it('WRITE and READ with notifications go through the mapping; the other process sees the bytes', async () => {
    const { peer, md, addr } = await child(PARAMS, 'target', 'TCP');
    const me = await localAgent('initiator');
    me.loadRemoteMD(md);
    const local = me.alloc(2 * REGION);
    me.registerMem(local.buffer);
    const mine = local.buffer.subarray(0, REGION);
    const back = local.buffer.subarray(REGION);
    const write = (notif: string) =>
      me.write([{ addr: local.desc.addr, len: REGION }], [{ addr, len: REGION }], 'target', {
        notif,
      });

    // The first transfer takes the Unix socket and asks for a mapping.
    fillPattern(mine, 1);
    await write('w1');
    await until('mapped', () => tcpOf(me).shmCounters().maps === 1);
    const before = tcpOf(me).shmCounters().copies;

    for (const seed of [2, 3]) {
      fillPattern(mine, seed);
      await write(`w${seed}`);
      const got = await peer.send({ cmd: 'notif', msg: `w${seed}`, timeoutMs: 10_000 });
      expect(got.from).toBe('initiator');
      expect(got.hashAtArrival).toBe(sha256(mine));
    }
    await peer.send({ cmd: 'fill', off: 0, len: REGION, seed: 9 });
    await me.read(
      [{ addr: local.desc.addr + BigInt(REGION), len: REGION }],
      [{ addr, len: REGION }],
      'target',
      { notif: 'r9' },
    );
    expect(sha256(back)).toBe((await peer.send({ cmd: 'hash', off: 0, len: REGION })).hash);
    await peer.send({ cmd: 'notif', msg: 'r9', timeoutMs: 10_000 });
    // Three posts, each one memcpy on this thread.
    expect(tcpOf(me).shmCounters().copies - before).toBe(3);
    expect((await shmOf(peer)).grants).toBe(1);
  }, 60_000);

  // /proc/self/map_files needs CAP_SYS_ADMIN: the test runs as root (CI does).
  it.skipIf(process.getuid?.() !== 0)(
    'a peer holding the mapping cannot shrink the memory under its owner (the memfd is sealed)',
    async () => {
      const { peer, md, addr } = await child(PARAMS, 'target', 'TCP');
      const me = await localAgent('initiator');
      me.loadRemoteMD(md);
      const local = me.alloc(REGION);
      me.registerMem(local.buffer);
      const write = () =>
        me.write([{ addr: local.desc.addr, len: REGION }], [{ addr, len: REGION }], 'target');
      fillPattern(local.buffer, 21);
      await write();
      await until('mapped', () => tcpOf(me).shmCounters().maps === 1);

      // This process is the attacker: it reopens the file behind its mapping
      // of the target's memory and tries to truncate it.
      const line = readFileSync('/proc/self/maps', 'utf8')
        .split('\n')
        .find((l) => l.includes('memfd:nixl-tcp-shm'));
      expect(line).toBeDefined();
      const range = line!.split(' ')[0];
      const fd = openSync(`/proc/self/map_files/${range}`, 'r+');
      try {
        expect(() => ftruncateSync(fd, 0)).toThrow(/EPERM/);
      } finally {
        closeSync(fd);
      }

      // The target is alive, its memory whole, and the mapping still works.
      fillPattern(local.buffer, 22);
      const copies = tcpOf(me).shmCounters().copies;
      await write();
      expect(tcpOf(me).shmCounters().copies).toBe(copies + 1);
      expect((await peer.send({ cmd: 'hash', off: 0, len: REGION })).hash).toBe(
        sha256(local.buffer),
      );
    },
    60_000,
  );

  it('a region that is part of a larger allocation is never granted, and its transfers stay correct', async () => {
    const me = await localAgent('target');
    const whole = me.alloc(2 * REGION, { backend: 'TCP' });
    const part = whole.buffer.subarray(0, REGION);
    me.registerMem(part);
    const { peer } = await child(PARAMS, 'writer');
    await peer.send({ cmd: 'load', md: Buffer.from(me.getLocalMD()).toString('base64') });
    for (const seed of [4, 5, 6]) {
      await peer.send({ cmd: 'fill', off: 0, len: REGION, seed });
      await childXfer(peer, 'WRITE', whole.desc.addr, REGION);
      expect(sha256(part)).toBe((await peer.send({ cmd: 'hash', off: 0, len: REGION })).hash);
    }
    // Asked once: no mapping (the memfd would expose all of the allocation),
    // a pull grant instead, which covers READs only: the WRITEs went through
    // this side's engine.
    expect(tcpOf(me).shmCounters()).toMatchObject({ grants: 1, refused: 0 });
    expect(await shmOf(peer)).toMatchObject({ maps: 0, pullGrants: 1, copies: 0 });
  }, 60_000);

  it('a READ of memory the target did not allocate is pulled by the initiator, without a round trip', async () => {
    const { peer, md, addr } = await child(PARAMS, 'target'); // plain memory, not a memfd
    const me = await localAgent('initiator');
    me.loadRemoteMD(md);
    const local = me.alloc(REGION);
    me.registerMem(local.buffer);
    const read = (len: number, notif?: string) =>
      me.read([{ addr: local.desc.addr, len }], [{ addr, len }], 'target', { notif });

    await peer.send({ cmd: 'fill', off: 0, len: REGION, seed: 31 });
    await read(REGION); // the usual path; asks for a grant
    await until('pull grant', () => tcpOf(me).shmCounters().pullGrants === 1);
    expect(tcpOf(me).shmCounters().maps).toBe(0);
    const before = tcpOf(me).shmCounters().copies;
    for (const [seed, len] of [
      [32, 4096],
      [33, REGION],
    ]) {
      await peer.send({ cmd: 'fill', off: 0, len: REGION, seed });
      await read(len, `r${seed}`);
      expect(sha256(local.buffer.subarray(0, len))).toBe(
        (await peer.send({ cmd: 'hash', off: 0, len })).hash,
      );
      await peer.send({ cmd: 'notif', msg: `r${seed}`, timeoutMs: 10_000 });
    }
    expect(tcpOf(me).shmCounters().copies - before).toBe(2);

    // A WRITE is the target's to copy: it takes the usual path, and lands.
    fillPattern(local.buffer, 34);
    await me.write([{ addr: local.desc.addr, len: REGION }], [{ addr, len: REGION }], 'target');
    expect((await peer.send({ cmd: 'hash', off: 0, len: REGION })).hash).toBe(sha256(local.buffer));
    expect(tcpOf(me).shmCounters().copies - before).toBe(2);
    expect(await shmOf(peer)).toMatchObject({ grants: 1, refused: 0 });
  }, 60_000);

  it('a pull from a target that was killed fails, never reports DONE', async () => {
    const { peer, md, addr } = await child(PARAMS, 'target');
    const me = await localAgent('initiator');
    me.loadRemoteMD(md);
    const local = me.alloc(REGION);
    me.registerMem(local.buffer);
    const descs = [[{ addr: local.desc.addr, len: 4096 }], [{ addr, len: 4096 }]] as const;
    await me.read(...descs, 'target');
    await until('pull grant', () => tcpOf(me).shmCounters().pullGrants === 1);
    const req = me.createXferReq('READ', ...descs, 'target');
    // A pull (done inside the post, or by the I/O thread when it held the
    // engine, lingering after the last completion).
    const pulled = tcpOf(me).shmCounters().copies;
    me.postXferReq(req);
    await req.wait();
    expect(tcpOf(me).shmCounters().copies).toBe(pulled + 1);
    peer.signal('SIGKILL');
    await peer.waitForExit(10_000);
    // Either the post already knows the peer is gone (it throws) or the
    // transfer ends in an error; the bytes of a dead process are never DONE.
    const t0 = performance.now();
    const outcome = await (async () => {
      try {
        me.postXferReq(req);
        await req.wait();
        return 'DONE';
      } catch (err) {
        return (err as Error).name;
      }
    })();
    expect(outcome).toMatch(/RemoteDisconnectError|NotFoundError/);
    expect(performance.now() - t0).toBeLessThan(10_000);
  }, 60_000);

  it('a peer connected over TCP never asks for nor gets a mapping', async () => {
    const me = await localAgent('target');
    const mem = me.alloc(REGION, { backend: 'TCP' });
    me.registerMem(mem.buffer);
    const { peer } = await child({ ...PARAMS, same_host: 'off' }, 'writer');
    await peer.send({ cmd: 'load', md: Buffer.from(me.getLocalMD()).toString('base64') });
    for (const seed of [7, 8]) {
      await peer.send({ cmd: 'fill', off: 0, len: REGION, seed });
      await childXfer(peer, 'WRITE', mem.desc.addr, REGION);
      expect(sha256(mem.buffer)).toBe((await peer.send({ cmd: 'hash', off: 0, len: REGION })).hash);
    }
    expect(tcpOf(me).shmCounters()).toMatchObject({ grants: 0, refused: 0 });
    expect((await shmOf(peer)).maps).toBe(0);
  }, 60_000);

  /** A target here with one whole shared region, and a child that mapped it. */
  async function mappedByChild(timeoutMs: number) {
    const me = await localAgent('target', { ...PARAMS, shm_unmap_timeout_ms: String(timeoutMs) });
    const mem = me.alloc(REGION, { backend: 'TCP' });
    const reg = me.registerMem(mem.buffer);
    const { peer } = await child(PARAMS, 'writer');
    await peer.send({ cmd: 'load', md: Buffer.from(me.getLocalMD()).toString('base64') });
    await peer.send({ cmd: 'fill', off: 0, len: REGION, seed: 11 });
    await childXfer(peer, 'WRITE', mem.desc.addr, REGION);
    await until('mapped by the child', async () => (await shmOf(peer)).maps === 1);
    await childXfer(peer, 'WRITE', mem.desc.addr, REGION);
    expect((await shmOf(peer)).copies).toBe(1);
    expect(sha256(mem.buffer)).toBe((await peer.send({ cmd: 'hash', off: 0, len: REGION })).hash);
    return { me, mem, reg, peer };
  }

  it('deregistration asks the peer to unmap; its next transfer fails with a typed error', async () => {
    const { me, mem, reg, peer } = await mappedByChild(5_000);
    const t0 = performance.now();
    me.deregisterMem(reg);
    const took = performance.now() - t0;
    expect(took).toBeLessThan(5_000 + 2_000); // the bound (the peer answers long before it)
    expect(tcpOf(me).shmCounters()).toMatchObject({ dropped: 0, privatized: 0 });
    const hash = sha256(mem.buffer);
    await peer.send({ cmd: 'fill', off: 0, len: REGION, seed: 12 });
    await expect(childXfer(peer, 'WRITE', mem.desc.addr, REGION)).rejects.toThrow(/NotFoundError/);
    await expect(childXfer(peer, 'READ', mem.desc.addr, REGION)).rejects.toThrow(/NotFoundError/);
    expect(sha256(mem.buffer)).toBe(hash);
    expect((await shmOf(peer)).copies).toBe(1);
  }, 60_000);

  it('deregistering a region with a pull grant revokes it; the next READ fails and nothing is made private', async () => {
    const me = await localAgent('target', { ...PARAMS, shm_unmap_timeout_ms: '5000' });
    const mem = me.alloc(REGION); // plain memory: pull grants only
    const reg = me.registerMem(mem.buffer);
    fillPattern(mem.buffer, 41);
    const { peer } = await child(PARAMS, 'reader');
    await peer.send({ cmd: 'load', md: Buffer.from(me.getLocalMD()).toString('base64') });
    await childXfer(peer, 'READ', mem.desc.addr, REGION);
    await until('pull grant', async () => (await shmOf(peer)).pullGrants === 1);
    await childXfer(peer, 'READ', mem.desc.addr, REGION);
    expect((await shmOf(peer)).copies).toBe(1);
    expect((await peer.send({ cmd: 'hash', off: 0, len: REGION })).hash).toBe(sha256(mem.buffer));

    me.deregisterMem(reg);
    expect(tcpOf(me).shmCounters()).toMatchObject({ grants: 1, dropped: 0, privatized: 0 });
    await expect(childXfer(peer, 'READ', mem.desc.addr, REGION)).rejects.toThrow(/NotFoundError/);
    expect((await shmOf(peer)).copies).toBe(1);
  }, 60_000);

  it('a frozen peer holding a mapping is dropped within the bound and cannot change the memory after', async () => {
    const { me, mem, reg, peer } = await mappedByChild(500);
    peer.signal('SIGSTOP');
    // Every thread of it stopped (state T) before the deregistration asks.
    await waitStopped(peer.pid);
    const t0 = performance.now();
    me.deregisterMem(reg);
    const took = performance.now() - t0;
    expect(took).toBeLessThan(500 + 5_000);
    expect(tcpOf(me).shmCounters()).toMatchObject({ dropped: 1, privatized: 1 });
    const hash = sha256(mem.buffer);
    const expected = Buffer.alloc(REGION);
    fillPattern(expected, 11);
    expect(hash).toBe(sha256(expected));
    peer.signal('SIGCONT');
    await peer.send({ cmd: 'fill', off: 0, len: REGION, seed: 13 }, 10_000);
    // Dropped: its engine saw the connection close and unmapped; reconnecting
    // finds the region gone. Either way the bytes here stay as they were.
    await expect(childXfer(peer, 'WRITE', mem.desc.addr, REGION)).rejects.toThrow(
      /NotFoundError|RemoteDisconnectError/,
    );
    expect(sha256(mem.buffer)).toBe(hash);
    // The memory stays this process's own and usable.
    mem.buffer.fill(7);
    expect(mem.buffer[REGION - 1]).toBe(7);
  }, 60_000);
});
