/**
 * Peers that die or freeze: a SIGKILLed peer fails the transfers in flight
 * with RemoteDisconnectError within a bound and the survivor keeps serving a
 * third agent; a SIGSTOPped peer hits the timeout; a restarted peer works
 * again once its fresh metadata is loaded. Socket path, across processes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { RemoteDisconnectError } from '../../src/errors.js';
import { fillPattern, sha256 } from '../../testing/pattern.js';
import { TcpPeer } from './tcp-peer-process.js';
import { waitStopped } from '../proc-stat.js';

const MiB = 1024 * 1024;
const REGION = 256 * MiB;
const TIMEOUT_MS = 1500;
const BOUND_MS = 8000; // timeout + generous scheduling slack on a loaded 2-core machine
const params = { same_host: 'off', timeout_ms: String(TIMEOUT_MS), connect_timeout_ms: '3000' };

describe('TCP peer failures', () => {
  let s: Agent;
  let local: Buffer;
  let localBase: bigint;
  const peers: TcpPeer[] = [];

  async function startPeer(name: string, size = REGION): Promise<TcpPeer> {
    const p = await TcpPeer.start(name, size, params);
    peers.push(p);
    expect(s.loadRemoteMD(p.mdBytes)).toBe(name);
    await p.send({ cmd: 'load', md: Buffer.from(s.getLocalMD()).toString('base64') });
    return p;
  }

  beforeAll(async () => {
    s = await Agent.create({
      name: `survivor-${process.pid}`,
      backends: [{ type: 'TCP', params }],
    });
    local = s.alloc(REGION).buffer;
    localBase = s.registerMem(local).descs.at(0).addr;
    fillPattern(local, 9);
  }, 60_000);

  afterAll(async () => {
    for (const p of peers) await p.close();
    await s?.close();
  }, 60_000);

  async function failsWithin(
    p: TcpPeer,
    op: 'WRITE' | 'READ',
    trigger: () => void,
  ): Promise<{ err: unknown; ms: number }> {
    const req = s.createXferReq(
      op,
      [{ addr: localBase, len: REGION }],
      [{ addr: p.addr, len: REGION }],
      p.name,
    );
    s.postXferReq(req);
    const t0 = Date.now();
    trigger();
    let err: unknown;
    // If the transfer won the race, repost until the failure shows.
    for (let i = 0; i < 100 && !err; i++) {
      try {
        await req.wait({ signal: AbortSignal.timeout(BOUND_MS * 2) });
        s.postXferReq(req);
      } catch (e) {
        err = e;
      }
    }
    req.release();
    return { err, ms: Date.now() - t0 };
  }

  it('SIGKILL mid-WRITE and mid-READ: RemoteDisconnectError within the bound', async () => {
    for (const op of ['WRITE', 'READ'] as const) {
      const k = await startPeer(`killed-${op}-${process.pid}`);
      // Connected and moving before the kill.
      await s.write([{ addr: localBase, len: MiB }], [{ addr: k.addr, len: MiB }], k.name);
      const { err, ms } = await failsWithin(k, op, () => k.signal('SIGKILL'));
      expect(err).toBeInstanceOf(RemoteDisconnectError);
      expect(ms).toBeLessThan(BOUND_MS);
      expect(s.checkRemoteMD(k.name)).toBe(false); // its metadata was dropped
      await k.exited;
    }
  }, 120_000);

  it('the survivor keeps serving a third agent, both ways', async () => {
    const x = await startPeer(`third-${process.pid}`, 64 * MiB);
    await s.write([{ addr: localBase, len: 64 * MiB }], [{ addr: x.addr, len: 64 * MiB }], x.name);
    expect((await x.send({ cmd: 'hash', off: 0, len: 64 * MiB })).hash).toBe(
      sha256(local.subarray(0, 64 * MiB)),
    );
    // The third agent initiates: it reads from and writes into the survivor.
    await x.send({ cmd: 'fill', off: 0, len: 8 * MiB, seed: 3 });
    await x.send({
      cmd: 'write',
      to: s.name,
      descs: [[0, (localBase + BigInt(100 * MiB)).toString(), 8 * MiB]],
    });
    expect(sha256(local.subarray(100 * MiB, 108 * MiB))).toBe(
      (await x.send({ cmd: 'hash', off: 0, len: 8 * MiB })).hash,
    );
    await x.send({ cmd: 'read', to: s.name, descs: [[0, localBase.toString(), 8 * MiB]] });
    expect((await x.send({ cmd: 'hash', off: 0, len: 8 * MiB })).hash).toBe(
      sha256(local.subarray(0, 8 * MiB)),
    );
    await x.close();
  }, 120_000);

  it('SIGSTOP: the frozen peer times out; a restarted peer works after its metadata is loaded', async () => {
    const name = `frozen-${process.pid}`;
    const f = await startPeer(name);
    await s.write([{ addr: localBase, len: MiB }], [{ addr: f.addr, len: MiB }], f.name);
    f.signal('SIGSTOP');
    await waitStopped(f.pid);
    try {
      const { err, ms } = await failsWithin(f, 'WRITE', () => {});
      expect(err).toBeInstanceOf(RemoteDisconnectError);
      expect((err as Error).message).toMatch(/timed out/);
      expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS / 2);
      expect(ms).toBeLessThan(BOUND_MS);
      expect(s.checkRemoteMD(name)).toBe(false);
    } finally {
      f.signal('SIGCONT');
      f.signal('SIGKILL');
      await f.exited;
    }
    // A new process under the same name: fresh metadata reconnects.
    const again = await startPeer(name);
    expect(s.checkRemoteMD(name)).toBe(true);
    await s.write(
      [{ addr: localBase, len: 32 * MiB }],
      [{ addr: again.addr, len: 32 * MiB }],
      name,
    );
    expect((await again.send({ cmd: 'hash', off: 0, len: 32 * MiB })).hash).toBe(
      sha256(local.subarray(0, 32 * MiB)),
    );
    await again.send({ cmd: 'fill', off: 0, len: MiB, seed: 44 });
    await s.read(
      [{ addr: localBase + BigInt(200 * MiB), len: MiB }],
      [{ addr: again.addr, len: MiB }],
      name,
    );
    expect(sha256(local.subarray(200 * MiB, 201 * MiB))).toBe(
      (await again.send({ cmd: 'hash', off: 0, len: MiB })).hash,
    );
  }, 120_000);
});
