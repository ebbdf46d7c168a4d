/**
 * busy_poll_us leaves a peer's connections unwatched by the I/O thread while
 * the posting thread completes transfers itself. These tests check what that
 * must not break, across processes over 127.0.0.1: a transfer the I/O thread
 * carries afterwards, a standalone notification, and noticing a peer that
 * exits while nothing is in flight.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { RemoteDisconnectError } from '../../src/errors.js';
import { fillPattern, sha256 } from '../../testing/pattern.js';
import { TcpPeer } from './tcp-peer-process.js';

const MiB = 1024 * 1024;
const REGION = 64 * MiB;
// A window long enough that small transfers complete inside post() even on a
// loaded machine, so the connections are left unwatched, and short enough
// that a 64 MiB WRITE is over what the poster sends itself (4 KiB per µs of
// the window): the I/O thread carries that one.
const params = { same_host: 'off', busy_poll_us: '5000', timeout_ms: '5000' };
const NOTICE_BOUND_MS = 5000;

describe('TCP busy_poll_us: connections left to the posting thread', () => {
  let agent: Agent | undefined;
  let peer: TcpPeer | undefined;

  afterEach(async () => {
    await peer?.close();
    await agent?.close();
    peer = agent = undefined;
  }, 60_000);

  async function setUp(tag: string) {
    const a = await Agent.create({
      name: `busy-${tag}-${process.pid}`,
      backends: [{ type: 'TCP', params }],
    });
    agent = a;
    const local = a.alloc(REGION).buffer;
    fillPattern(local, 3);
    const localBase = a.registerMem(local).descs.at(0).addr;
    const p = await TcpPeer.start(`busy-peer-${tag}-${process.pid}`, REGION, params);
    peer = p;
    a.loadRemoteMD(p.mdBytes);
    await p.send({ cmd: 'load', md: Buffer.from(a.getLocalMD()).toString('base64') });
    await a.makeConnection(p.name);
    return { a, p, local, localBase };
  }

  /** Small WRITEs until one completes inside post(): the connections are then unwatched. */
  function writeInline(a: Agent, p: TcpPeer, localBase: bigint): void {
    const req = a.createXferReq(
      'WRITE',
      [{ addr: localBase, len: 4096 }],
      [{ addr: p.addr, len: 4096 }],
      p.name,
    );
    let inline = 0;
    for (let i = 0; i < 50 && inline < 5; i++) {
      if (req.post() === 'DONE') inline++;
      else while (req.status() !== 'DONE');
    }
    req.release();
    expect(inline).toBeGreaterThan(0);
  }

  it('a large transfer carried by the I/O thread, then a notification, still complete', async () => {
    const { a, p, local, localBase } = await setUp('large');
    writeInline(a, p, localBase);
    // Over the inline limit: queued to the I/O thread, which must read the answers.
    const req = a.createXferReq(
      'WRITE',
      [{ addr: localBase, len: REGION }],
      [{ addr: p.addr, len: REGION }],
      p.name,
    );
    expect(req.post()).toBe('IN_PROG');
    await req.wait({ signal: AbortSignal.timeout(30_000) });
    req.release();
    const { hash } = await p.send({ cmd: 'hash', off: 0, len: REGION });
    expect(hash).toBe(sha256(local.subarray(0, REGION)));

    writeInline(a, p, localBase);
    a.genNotif(p.name, 'after inline posts');
    let got: string[] = [];
    for (let i = 0; i < 100 && got.length === 0; i++) {
      got = (await p.send({ cmd: 'notifs' })).list.map((n: string[]) => n[1]!);
      if (got.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(got).toContain('after inline posts');
  }, 120_000);

  it('a peer that exits while nothing is in flight is noticed and dropped', async () => {
    const { a, p, localBase } = await setUp('idle');
    writeInline(a, p, localBase);
    const dropped = new Promise<unknown>((resolve) =>
      a.on('peer:disconnect', (_name, err) => resolve(err)),
    );
    const t0 = Date.now();
    await p.kill('SIGKILL');
    const err = await Promise.race([
      dropped,
      new Promise((r) => setTimeout(() => r('not noticed'), NOTICE_BOUND_MS)),
    ]);
    expect(err).toBeInstanceOf(RemoteDisconnectError);
    expect(Date.now() - t0).toBeLessThan(NOTICE_BOUND_MS);
    expect(a.checkRemoteMD(p.name)).toBe(false);
  }, 60_000);
});
