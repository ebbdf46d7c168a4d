/**
 * NOTIF_ACK on the wire (native/tcp/FRAMES.md, "Features" and "Ordering and
 * completion"), from a raw initiator: the target grants it only to an
 * initiator that asks (an older one verifies HELLO_OK's MAC over the flags it
 * knows); it answers a NOTIF that carries ACK_REQ once its getNotifs returns
 * the notification; and a NOTIF bound to a refused WRITE gets an ACK with the
 * refusal, and no notification.
 */
import { createHmac, randomBytes } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import type { Registration } from '../../src/registration.js';
import { Status } from '../../src/status.js';
import {
  FLAG_NOTIF_ACK,
  FLAG_ACK_REQ,
  FrameClient,
  OP,
  header,
  targetInfo,
  type TargetInfo,
} from './tcp-frame-client.js';

describe('TCP target: NOTIF_ACK', () => {
  let target: Agent;
  let buf: Buffer;
  let reg: Registration;
  let info: TargetInfo;
  const clients: FrameClient[] = [];

  beforeAll(async () => {
    target = await Agent.create({
      name: `notif-ack-tgt-${process.pid}`,
      backends: [{ type: 'TCP', params: { same_host: 'off' } }],
    });
    buf = Buffer.alloc(64 * 1024);
    reg = target.registerMem(buf);
    info = targetInfo(target.getLocalMD());
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await target?.close();
  });

  async function open(name: string, flags: number): Promise<FrameClient> {
    const c = await FrameClient.open(info, name, { flags });
    clients.push(c);
    return c;
  }

  /** HELLO_OK's MAC over `flags` (FRAMES.md, handshake step 4; the client's nonceI is 32 × 7). */
  function helloOkMacValid(c: FrameClient, flags: number): boolean {
    const mac = createHmac('sha256', info.secret)
      .update('nixl-tcp-v2 ok')
      .update(Buffer.alloc(32, 7))
      .update(c.nonceT)
      .update(Buffer.from([flags]))
      .digest();
    return mac.equals(c.helloOk!.payload.subarray(0, 32));
  }

  const region = () => info.regions.find((r) => r.addr === reg.descs.at(0).addr)!;

  it('is granted only to an initiator that asks, under the MAC', async () => {
    const older = await open('notif-ack-older', 0);
    expect(older.helloOk!.flags & FLAG_NOTIF_ACK).toBe(0);
    expect(helloOkMacValid(older, 0)).toBe(true);
    const newer = await open('notif-ack-newer', FLAG_NOTIF_ACK);
    expect(newer.helloOk!.flags & FLAG_NOTIF_ACK).toBe(FLAG_NOTIF_ACK);
    expect(helloOkMacValid(newer, FLAG_NOTIF_ACK)).toBe(true);
  });

  it('a NOTIF with ACK_REQ after a WRITE: at its ACK the data is in memory and getNotifs returns the notification', async () => {
    const c = await open('notif-ack-writer', FLAG_NOTIF_ACK);
    const r = region();
    for (let i = 1; i <= 50; i++) {
      const data = randomBytes(1000 + i);
      const xferId = BigInt(i);
      const msg = Buffer.from(`written-${i}`);
      c.send(
        header({
          op: OP.WRITE,
          xferId,
          regionId: r.regionId,
          key: r.key,
          addr: r.addr,
          len: data.length,
        }),
        data,
        header({ op: OP.NOTIF, flags: FLAG_ACK_REQ, xferId, len: msg.length }),
        msg,
      );
      const ack = await c.next();
      expect(ack?.op).toBe(OP.ACK);
      expect(ack?.xferId).toBe(xferId);
      expect(ack?.status).toBe(Status.SUCCESS);
      // Synchronously, in the same turn as the ACK was read.
      const got = target.getNotifs().get('notif-ack-writer') ?? [];
      expect(got.map((m) => Buffer.from(m).toString())).toEqual([msg.toString()]);
      expect(buf.subarray(0, data.length).equals(data)).toBe(true);
    }
  });

  it('a NOTIF with ACK_REQ bound to a refused WRITE: ERR, then an ACK with the refusal, no notification', async () => {
    const c = await open('notif-ack-refused', FLAG_NOTIF_ACK);
    const r = region();
    const before = Buffer.from(buf);
    const msg = Buffer.from('never');
    c.send(
      header({
        op: OP.WRITE,
        xferId: 99n,
        regionId: r.regionId,
        key: r.key ^ 1n,
        addr: r.addr,
        len: 8,
      }),
      Buffer.alloc(8, 1),
      header({ op: OP.NOTIF, flags: FLAG_ACK_REQ, xferId: 99n, len: msg.length }),
      msg,
    );
    const err = await c.next();
    expect([err?.op, err?.status]).toEqual([OP.ERR, Status.ERR_NOT_ALLOWED]);
    const ack = await c.next();
    expect([ack?.op, ack?.xferId, ack?.status]).toEqual([OP.ACK, 99n, Status.ERR_NOT_ALLOWED]);
    expect(target.getNotifs().get('notif-ack-refused')).toBeUndefined();
    expect(buf.equals(before)).toBe(true);
  });
});
