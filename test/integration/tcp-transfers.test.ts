/**
 * Transfers between two processes over 127.0.0.1, on the socket path and on
 * the same-host path: 0 B to 256 MiB at random offsets verified by hash,
 * 10,000 mixed small transfers against a mirror, and notification ordering.
 */
import { randomBytes } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { fillPattern, seededInts, sha256 } from '../../testing/pattern.js';
import { TcpPeer } from './tcp-peer-process.js';

const MiB = 1024 * 1024;
const REGION = 256 * MiB + 64 * 1024;
const WAIT = { signal: undefined as AbortSignal | undefined };

describe.each([
  ['socket', 'off', '2', '0'],
  // busy_poll_us=300: WRITEs up to ~1.2 MB are sent by the posting thread,
  // which keeps sending while it polls; larger ones go to the I/O thread.
  ['socket (busy_poll_us=300)', 'off', '2', '300'],
  ['same-host', 'auto', '2', '0'],
  ['same-host (3 copy threads)', 'auto', '3', '0'],
])('TCP across two processes, %s path', (_path, sameHost, copyThreads, busyPollUs) => {
  const params = {
    same_host: sameHost,
    timeout_ms: '10000',
    copy_threads: copyThreads,
    busy_poll_us: busyPollUs,
  };
  let a: Agent;
  let peer: TcpPeer;
  let local: Buffer;
  let localBase: bigint;

  beforeAll(async () => {
    a = await Agent.create({
      name: `xfer-${sameHost}-${copyThreads}-${busyPollUs}-${process.pid}`,
      backends: [{ type: 'TCP', params }],
    });
    local = a.alloc(REGION).buffer;
    localBase = a.registerMem(local).descs.at(0).addr;
    peer = await TcpPeer.start(
      `xfer-peer-${sameHost}-${copyThreads}-${busyPollUs}-${process.pid}`,
      REGION,
      params,
    );
    a.loadRemoteMD(peer.mdBytes);
    await peer.send({ cmd: 'load', md: Buffer.from(a.getLocalMD()).toString('base64') });
  }, 120_000);

  afterAll(async () => {
    await peer?.close();
    await a?.close();
  }, 60_000);

  it('WRITE and READ from 0 B to 256 MiB at random offsets, verified by hash', async () => {
    const rand = seededInts(sameHost === 'off' ? 17 : 29);
    const sizes = [0, 1, 3, 4095, 4096, 65537, MiB + 7, 16 * MiB + 3, 64 * MiB, 256 * MiB];
    fillPattern(local, 5);
    for (const size of sizes) {
      const loff = rand(REGION - size + 1);
      const roff = rand(REGION - size + 1);
      await a.write(
        [{ addr: localBase + BigInt(loff), len: size }],
        [{ addr: peer.addr + BigInt(roff), len: size }],
        peer.name,
        WAIT,
      );
      const want = sha256(local.subarray(loff, loff + size));
      expect((await peer.send({ cmd: 'hash', off: roff, len: size })).hash).toBe(want);

      const seed = 1000 + size;
      await peer.send({ cmd: 'fill', off: roff, len: size, seed });
      const back = rand(REGION - size + 1);
      await a.read(
        [{ addr: localBase + BigInt(back), len: size }],
        [{ addr: peer.addr + BigInt(roff), len: size }],
        peer.name,
        WAIT,
      );
      expect(sha256(local.subarray(back, back + size))).toBe(
        (await peer.send({ cmd: 'hash', off: roff, len: size })).hash,
      );
    }
  }, 180_000);

  it('a batch of odd-sized descriptors, split across copy threads mid-descriptor', async () => {
    // Over 2 MiB in total, so the target shares one same-host copy between
    // threads; the cut points fall inside descriptors.
    const lens = [MiB + 1, 3, 0, 2 * MiB + 5, 4097, 3 * MiB - 11];
    const rand = seededInts(Number(copyThreads) * 7 + (sameHost === 'off' ? 1 : 0));
    fillPattern(local, 41);
    const locals: { addr: bigint; len: number }[] = [];
    const remotes: { addr: bigint; len: number }[] = [];
    let at = 0;
    for (const len of lens) {
      at += rand(4096);
      locals.push({ addr: localBase + BigInt(at), len });
      remotes.push({ addr: peer.addr + BigInt(at + 12_345), len });
      at += len;
    }
    await a.write(locals, remotes, peer.name, WAIT);
    for (const l of locals) {
      const off = Number(l.addr - localBase);
      expect((await peer.send({ cmd: 'hash', off: off + 12_345, len: l.len })).hash).toBe(
        sha256(local.subarray(off, off + l.len)),
      );
    }
    await peer.send({ cmd: 'fill', off: 0, len: at + 12_345, seed: 43 });
    local.fill(0, 0, at);
    await a.read(locals, remotes, peer.name, WAIT);
    for (const l of locals) {
      const off = Number(l.addr - localBase);
      expect(sha256(local.subarray(off, off + l.len))).toBe(
        (await peer.send({ cmd: 'hash', off: off + 12_345, len: l.len })).hash,
      );
    }
  }, 60_000);

  it('10,000 mixed small transfers agree with a mirror of the target', async () => {
    const rand = seededInts(sameHost === 'off' ? 101 : 202);
    const SLOT = 64 * 1024;
    const SLOTS = 1024; // 64 MiB of the target
    const TOTAL = 10_000;
    const WAVE = 100;
    fillPattern(local.subarray(0, SLOTS * SLOT), 77);
    await peer.send({ cmd: 'fill', off: 0, len: SLOTS * SLOT, seed: 78 });
    const mirror = Buffer.alloc(SLOTS * SLOT);
    fillPattern(mirror, 78);
    const readArea = SLOTS * SLOT; // local bytes after the source slots receive READs
    let done = 0;
    while (done < TOTAL) {
      const used = new Set<number>();
      const wave: {
        op: 'WRITE' | 'READ';
        slot: number;
        len: number;
        inner: number;
        dst: number;
      }[] = [];
      for (let i = 0; i < WAVE; i++) {
        let slot = rand(SLOTS);
        while (used.has(slot)) slot = (slot + 1) % SLOTS;
        used.add(slot);
        const len = 1 + rand(SLOT - 1);
        const inner = rand(SLOT - len + 1);
        wave.push({ op: rand(2) ? 'WRITE' : 'READ', slot, len, inner, dst: readArea + i * SLOT });
      }
      const reqs = wave.map((w) => {
        const off = w.slot * SLOT + w.inner;
        const l = w.op === 'WRITE' ? off : w.dst;
        const req = a.createXferReq(
          w.op,
          [{ addr: localBase + BigInt(l), len: w.len }],
          [{ addr: peer.addr + BigInt(off), len: w.len }],
          peer.name,
        );
        a.postXferReq(req);
        return req;
      });
      await Promise.all(reqs.map((r) => r.done));
      for (const r of reqs) r.release();
      for (const w of wave) {
        const off = w.slot * SLOT + w.inner;
        if (w.op === 'WRITE') {
          local.copy(mirror, off, off, off + w.len);
        } else {
          expect(
            local.subarray(w.dst, w.dst + w.len).equals(mirror.subarray(off, off + w.len)),
          ).toBe(true);
        }
      }
      done += WAVE;
    }
    expect((await peer.send({ cmd: 'hash', off: 0, len: SLOTS * SLOT })).hash).toBe(sha256(mirror));
  }, 180_000);

  it("a READ's notification reaches the target only after the data was read", async () => {
    // One stream, so nothing is striped: the notification shares the READ's
    // connection. The peer overwrites the range as soon as it is notified.
    const one = await Agent.create({
      name: `xfer-one-${sameHost}-${process.pid}`,
      backends: [{ type: 'TCP', params: { ...params, streams: '1' } }],
    });
    try {
      const dst = one.alloc(64 * MiB).buffer;
      const dstBase = one.registerMem(dst).descs.at(0).addr;
      one.loadRemoteMD(peer.mdBytes);
      for (const size of [4096, MiB, 64 * MiB]) {
        await peer.send({ cmd: 'fill', off: 0, len: size, seed: size });
        const want = (await peer.send({ cmd: 'hash', off: 0, len: size })).hash;
        const notif = `clobber:0:${size}:${randomBytes(3).toString('hex')}`;
        await one.read(
          [{ addr: dstBase, len: size }],
          [{ addr: peer.addr, len: size }],
          peer.name,
          {
            notif,
          },
        );
        expect(sha256(dst.subarray(0, size))).toBe(want);
        // The notification and the next 'fill' travel on different channels:
        // wait until the peer has clobbered, so it can't land after that fill.
        const deadline = Date.now() + 30_000;
        for (;;) {
          const { list } = await peer.send({ cmd: 'notifs' });
          if (list.some((n: [string, string]) => n[1] === notif)) break;
          if (Date.now() > deadline)
            throw new Error(`notification ${notif} never reached the peer`);
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    } finally {
      await one.close();
    }
  }, 120_000);

  it('notifications arrive in order, each after its data', async () => {
    await peer.send({ cmd: 'notifs' }); // drop earlier ones
    const tag = randomBytes(3).toString('hex');
    const N = 600;
    const reqs = [];
    for (let i = 0; i < N; i++) {
      if (i % 3 === 0) {
        a.genNotif(peer.name, `plain:${tag}:${i}`);
        continue;
      }
      // Each WRITE puts its sequence number at its own 8-byte slot; its
      // notification asks the peer to read that slot when it arrives.
      const off = i * 8;
      local.writeBigUInt64LE(BigInt(i) + 1n, off);
      const req = a.createXferReq(
        'WRITE',
        [{ addr: localBase + BigInt(off), len: 8 }],
        [{ addr: peer.addr + BigInt(off), len: 8 }],
        peer.name,
        { notif: `peek:${off}:${tag}:${i}` },
      );
      a.postXferReq(req);
      reqs.push(req);
    }
    await Promise.all(reqs.map((r) => r.done));
    for (const r of reqs) r.release();
    const got: [string, string, string | null][] = [];
    const deadline = Date.now() + 30_000;
    while (got.length < N && Date.now() < deadline) {
      got.push(...(await peer.send({ cmd: 'notifs' })).list);
      if (got.length < N) await new Promise((r) => setTimeout(r, 20));
    }
    expect(got.length).toBe(N);
    for (let i = 0; i < N; i++) {
      const [from, msg, peek] = got[i]!;
      expect(from).toBe(a.name);
      expect(msg.endsWith(`:${tag}:${i}`)).toBe(true);
      if (peek !== null) {
        const b = Buffer.alloc(8);
        b.writeBigUInt64LE(BigInt(i) + 1n);
        expect(peek).toBe(b.toString('hex'));
      }
    }
  }, 120_000);
});
