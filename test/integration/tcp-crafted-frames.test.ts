/**
 * The target is the authority over its memory: a test initiator crafts frames
 * directly (bypassing every check its own agent would make) and the target's
 * engine refuses each bad request with an error frame, touching nothing.
 */
import { randomBytes } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { native } from '../../src/native.js';
import type { Registration } from '../../src/registration.js';
import { Status } from '../../src/status.js';
import { sha256 } from '../../testing/pattern.js';
import {
  FLAG_ACK_REQ,
  FrameClient,
  OP,
  header,
  targetInfo,
  type TargetInfo,
} from './tcp-frame-client.js';

const CANARY = 4096;
const LEN = 64 * 1024;

describe('TCP target refuses crafted frames', () => {
  let target: Agent;
  let buf: Buffer;
  let reg: Registration;
  let gone: Registration;
  let info: TargetInfo;
  let client: FrameClient;
  let canaryHash: string;
  let xfer = 1n;

  beforeAll(async () => {
    target = await Agent.create({
      name: `crafted-tgt-${process.pid}`,
      backends: [{ type: 'TCP', params: { same_host: 'auto' } }],
    });
    buf = target.alloc(2 * (LEN + 2 * CANARY)).buffer;
    buf.fill(0xa5);
    reg = target.registerMem(buf.subarray(CANARY, CANARY + LEN));
    gone = target.registerMem(buf.subarray(LEN + 3 * CANARY, 2 * LEN + 3 * CANARY));
    info = targetInfo(target.getLocalMD());
    canaryHash = canaries();
    client = await FrameClient.open(info, 'crafty');
  });

  afterAll(async () => {
    client?.close();
    await target?.close();
  });

  function canaries(): string {
    return sha256(
      Buffer.concat([
        buf.subarray(0, CANARY),
        buf.subarray(CANARY + LEN, LEN + 3 * CANARY),
        buf.subarray(2 * LEN + 3 * CANARY),
      ]),
    );
  }

  const region = () => info.regions.find((r) => r.addr === reg.descs.at(0).addr)!;
  const goneRegion = () => info.regions.find((r) => r.addr === gone.descs.at(0).addr)!;

  async function write(
    r: { regionId: number; key: bigint; addr: bigint },
    addr: bigint,
    payload: Buffer,
  ): Promise<number> {
    const id = xfer++;
    client.send(
      header({
        op: OP.WRITE,
        flags: FLAG_ACK_REQ,
        xferId: id,
        regionId: r.regionId,
        key: r.key,
        addr,
        len: payload.length,
      }),
      payload,
    );
    const f = await client.next();
    expect(f?.op).toBe(OP.ACK);
    expect(f?.xferId).toBe(id);
    return f!.status;
  }

  async function read(
    r: { regionId: number; key: bigint },
    addr: bigint,
    len: number,
  ): Promise<{ status: number; trailer?: number; payload: Buffer }> {
    const id = xfer++;
    client.send(header({ op: OP.READ, xferId: id, regionId: r.regionId, key: r.key, addr, len }));
    const f = await client.next();
    expect(f?.op).toBe(OP.READ_DATA);
    expect(f?.xferId).toBe(id);
    return { status: f!.status, trailer: f!.trailer, payload: f!.payload };
  }

  it('a well-formed WRITE and READ succeed (the client is a real peer)', async () => {
    const r = region();
    const data = randomBytes(1000);
    expect(await write(r, r.addr + 100n, data)).toBe(Status.SUCCESS);
    expect(buf.subarray(CANARY + 100, CANARY + 1100).equals(data)).toBe(true);
    const back = await read(r, r.addr + 100n, 1000);
    expect(back.status).toBe(Status.SUCCESS);
    expect(back.trailer).toBe(Status.SUCCESS);
    expect(back.payload.equals(data)).toBe(true);
  });

  it('a wrong region key is refused (WRITE, READ, unacknowledged WRITE)', async () => {
    const r = region();
    const before = sha256(buf.subarray(CANARY, CANARY + LEN));
    const wrong = { ...r, key: r.key ^ 1n };
    expect(await write(wrong, r.addr, randomBytes(512))).toBe(Status.ERR_NOT_ALLOWED);
    const rd = await read(wrong, r.addr, 512);
    expect(rd.status).toBe(Status.ERR_NOT_ALLOWED);
    expect(rd.payload.length).toBe(0);
    // Without ACK_REQ, the refusal comes as an ERR frame.
    const id = xfer++;
    client.send(
      header({
        op: OP.WRITE,
        xferId: id,
        regionId: r.regionId,
        key: wrong.key,
        addr: r.addr,
        len: 8,
      }),
      Buffer.alloc(8, 1),
    );
    const err = await client.next();
    expect(err?.op).toBe(OP.ERR);
    expect(err?.xferId).toBe(id);
    expect(err?.status).toBe(Status.ERR_NOT_ALLOWED);
    expect(sha256(buf.subarray(CANARY, CANARY + LEN))).toBe(before);
  });

  it('addresses outside the region are refused, at both edges and beyond', async () => {
    const r = region();
    const before = sha256(buf.subarray(CANARY, CANARY + LEN));
    const end = r.addr + BigInt(LEN);
    for (const [addr, len] of [
      [end - 10n, 20],
      [r.addr - 1n, 2],
      [end, 1],
      [r.addr - 4096n, 4096],
      [2n ** 63n, 16],
      [2n ** 64n - 8n, 16], // wraps around
    ] as const) {
      expect(await write(r, addr, Buffer.alloc(len, 0x5a))).toBe(Status.ERR_INVALID_PARAM);
      expect((await read(r, addr, len)).status).toBe(Status.ERR_INVALID_PARAM);
    }
    // The whole region at once is fine; one byte more is not.
    expect((await read(r, r.addr, LEN)).status).toBe(Status.SUCCESS);
    expect((await read(r, r.addr, LEN + 1)).status).toBe(Status.ERR_INVALID_PARAM);
    expect(sha256(buf.subarray(CANARY, CANARY + LEN))).toBe(before);
    expect(canaries()).toBe(canaryHash);
  });

  it('a notification bound to a refused transfer is not delivered', async () => {
    const r = region();
    const got: string[] = [];
    const onNotif = (_from: string, msg: Uint8Array) => got.push(Buffer.from(msg).toString());
    target.on('notif', onNotif);
    try {
      const bad = xfer++;
      const good = xfer++;
      const notif = (id: bigint, text: string) =>
        client.send(header({ op: OP.NOTIF, xferId: id, len: text.length }), Buffer.from(text));
      client.send(
        header({
          op: OP.WRITE,
          xferId: bad,
          regionId: r.regionId,
          key: r.key ^ 4n,
          addr: r.addr,
          len: 4,
        }),
        Buffer.alloc(4),
      );
      notif(bad, 'after-refused');
      client.send(
        header({
          op: OP.WRITE,
          xferId: good,
          regionId: r.regionId,
          key: r.key,
          addr: r.addr,
          len: 4,
        }),
        Buffer.alloc(4),
      );
      notif(good, 'after-good');
      notif(0n, 'standalone');
      expect((await client.next())?.op).toBe(OP.ERR); // the refused WRITE
      const deadline = Date.now() + 10_000;
      while (!got.includes('standalone') && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 5));
      }
      expect(got).toEqual(['after-good', 'standalone']);
    } finally {
      target.off('notif', onNotif);
    }
  });

  it('an unknown region id is refused', async () => {
    const r = region();
    expect(await write({ ...r, regionId: 0xfffffff0 }, r.addr, Buffer.alloc(4))).toBe(
      Status.ERR_NOT_FOUND,
    );
  });

  it('a deregistered region is refused at once, with its old key', async () => {
    const g = goneRegion();
    expect(await write(g, g.addr, Buffer.alloc(16, 1))).toBe(Status.SUCCESS);
    target.deregisterMem(gone);
    const before = sha256(buf.subarray(LEN + 3 * CANARY, 2 * LEN + 3 * CANARY));
    expect(await write(g, g.addr, Buffer.alloc(16, 2))).toBe(Status.ERR_NOT_FOUND);
    expect((await read(g, g.addr, 16)).status).toBe(Status.ERR_NOT_FOUND);
    expect(sha256(buf.subarray(LEN + 3 * CANARY, 2 * LEN + 3 * CANARY))).toBe(before);
  });

  // Same-host descriptor lists need a peer in another process: the target
  // never grants same-host copies to its own. tcp-attacks.test.ts sends them.

  it('same-host frames on a connection that did not negotiate them close it', async () => {
    const c = await FrameClient.open(info, 'crafty-no-cma');
    expect(c.cma).toBe(false);
    c.send(header({ op: OP.CMA_WRITE, xferId: 1n, len: 40 }), Buffer.alloc(40));
    await c.closed;
    expect(c.isClosed).toBe(true);
  });

  it('a shared-memory map request on a connection without same-host copies closes it, nothing granted', async () => {
    const c = await FrameClient.open(info, 'crafty-no-shm');
    expect(c.cma).toBe(false);
    const r = region();
    c.send(header({ op: OP.SHM_MAP, regionId: r.regionId, key: r.key, len: 0 }));
    await c.closed;
    expect(c.isClosed).toBe(true);
  });

  it('a wrong secret never gets past the handshake', async () => {
    await expect(FrameClient.open(info, 'impostor', { secret: randomBytes(32) })).rejects.toThrow(
      /refused/,
    );
  });

  it('a peer that asks and never reads is held back; others are still served', async () => {
    const r = region();
    const greedy = await FrameClient.open(info, 'greedy');
    try {
      greedy.socket.pause(); // stop reading: the target's replies pile up
      const N = 20_000;
      const frames: Buffer[] = [];
      for (let i = 0; i < N; i++) {
        frames.push(
          header({
            op: OP.READ,
            xferId: BigInt(i),
            regionId: r.regionId,
            key: r.key,
            addr: r.addr,
            len: 4096,
          }),
        );
      }
      greedy.send(Buffer.concat(frames));
      // Meanwhile another peer gets its answers promptly.
      expect(await write(r, r.addr + 8n, Buffer.alloc(8, 9))).toBe(Status.SUCCESS);
      greedy.socket.resume();
      for (let i = 0; i < N; i++) {
        const f = await greedy.next(20_000);
        expect(f?.op).toBe(OP.READ_DATA);
        expect(f?.xferId).toBe(BigInt(i));
        expect(f?.status).toBe(Status.SUCCESS);
      }
    } finally {
      greedy.close();
    }
  }, 60_000);

  it('canaries around every region are intact', () => {
    expect(canaries()).toBe(canaryHash);
  });
});
