/**
 * An idle TCP engine sleeps long: its I/O thread, which checks timeouts on a
 * 20 ms tick while anything is connecting or in flight, wakes a few times a
 * second once there is nothing to watch (a process holding many agents paid
 * for 50 wake-ups a second of each). What the long sleep must not break: a
 * transfer posted after it, inline (small) or queued to the I/O thread
 * (large), to a peer that froze still fails with the timeout. Across
 * processes, over 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { RemoteDisconnectError } from '../../src/errors.js';
import { TcpPeer } from './tcp-peer-process.js';
import { waitStopped } from '../proc-stat.js';

const MiB = 1024 * 1024;
const REGION = 64 * MiB;
const TIMEOUT_MS = 1000;
const BOUND_MS = 8000; // timeout + generous scheduling slack on a loaded 2-core machine
const params = { same_host: 'off', timeout_ms: String(TIMEOUT_MS), connect_timeout_ms: '3000' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('TCP engine at rest', () => {
  let s: Agent;
  let localBase: bigint;
  const peers: TcpPeer[] = [];

  async function startPeer(name: string): Promise<TcpPeer> {
    const p = await TcpPeer.start(name, REGION, params);
    peers.push(p);
    s.loadRemoteMD(p.mdBytes);
    await p.send({ cmd: 'load', md: Buffer.from(s.getLocalMD()).toString('base64') });
    return p;
  }

  beforeAll(async () => {
    s = await Agent.create({ name: `rest-${process.pid}`, backends: [{ type: 'TCP', params }] });
    localBase = s.registerMem(s.alloc(REGION).buffer).descs.at(0).addr;
  }, 60_000);

  afterAll(async () => {
    for (const p of peers) await p.close();
    await s?.close();
  }, 60_000);

  it('an idle agent: no thread of its process wakes more than a few times a second', async () => {
    const p = await startPeer(`idle-${process.pid}`);
    // A transfer first, so that the engine had a connection and work to watch.
    await s.write([{ addr: localBase, len: MiB }], [{ addr: p.addr, len: MiB }], p.name);
    await sleep(500);
    const before = new Map<number, number>(
      (await p.send({ cmd: 'threads' })).list.map((t: any) => [t.tid, t.runs]),
    );
    await sleep(3000);
    const after: { tid: number; runs: number }[] = (await p.send({ cmd: 'threads' })).list;
    const most = Math.max(...after.map((t) => t.runs - (before.get(t.tid) ?? 0)));
    // A 20 ms tick is 150 in 3 s; the idle tick (250 ms) 12, plus the two
    // commands' round trips and a loaded machine's noise.
    expect(most).toBeLessThan(60);
  }, 60_000);

  for (const [what, len] of [
    ['small (posted inline)', 4096],
    ['large (queued to the I/O thread)', REGION],
  ] as const) {
    it(`after a long idle, a ${what} transfer to a frozen peer fails with the timeout`, async () => {
      const f = await startPeer(`frozen-${len}-${process.pid}`);
      await s.write([{ addr: localBase, len: MiB }], [{ addr: f.addr, len: MiB }], f.name);
      await sleep(1500); // past the engine's idle threshold: it sleeps long
      f.signal('SIGSTOP');
      await waitStopped(f.pid);
      try {
        const req = s.createXferReq(
          'WRITE',
          [{ addr: localBase, len }],
          [{ addr: f.addr, len }],
          f.name,
        );
        const t0 = Date.now();
        let err: unknown;
        // A small WRITE may land in the frozen peer's socket buffer and count
        // as done: repost until the failure shows.
        for (let i = 0; i < 10_000 && !err && Date.now() - t0 < BOUND_MS; i++) {
          try {
            s.postXferReq(req);
            await req.wait({ signal: AbortSignal.timeout(BOUND_MS) });
          } catch (e) {
            err = e;
          }
        }
        const ms = Date.now() - t0;
        req.release();
        expect(err).toBeInstanceOf(RemoteDisconnectError);
        expect((err as Error).message).toMatch(/timed out/);
        expect(ms).toBeLessThan(BOUND_MS);
      } finally {
        f.signal('SIGCONT');
        f.signal('SIGKILL');
        await f.exited;
      }
    }, 60_000);
  }
});
