// The TCP engine's "caller sends and reads" path: poll_progress=on, linger_us=0
// and inline sends up to 1 MiB, so a polling caller's thread sends each
// request (postXferReq) and reads its answer (getXferStatus), and keeps its
// peer's connections, unwatched by the I/O thread, from one post to the next
// (native/tcp/posting.cc, LeaveToPoller). Against an agent in another
// process: data checked by hash at every size, awaited posts after a poll
// loop finish promptly (the caller hands its peer back), and a target frozen
// (SIGSTOP) or killed in the middle of the loop fails it in bounded time;
// once the caller stops, neither process keeps a core busy; worker threads,
// each with its own agent on this path, polling at once, all land.
import { Worker } from 'node:worker_threads';

import { afterEach, describe, expect, it } from 'vitest';

import { fillPattern, sha256 } from '../../testing/pattern.js';
import { cpuMs } from '../proc-stat.js';
import { PeerProcess } from '../../testing/peer-harness.js';
import {
  expectFailsOnceFrozen,
  expectFailsOnceKilled,
  pollUntilDone,
  requestAt,
  type TcpPair,
  TcpPairs,
} from './tcp-pair.js';

const REGION = 4 << 20;
const SIZES = [4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20];
const TIMEOUT_MS = 2000;
const LEAN = {
  poll_progress: 'on',
  linger_us: '0',
  inline_write_max_bytes: String(1 << 20),
};

const pairs = new TcpPairs();
afterEach(() => pairs.closeAll());

function pair(): Promise<TcpPair> {
  return pairs.start({
    name: 'lean',
    regionBytes: REGION,
    params: { port: '0', same_host: 'off', timeout_ms: String(TIMEOUT_MS) },
    initiatorParams: LEAN,
  });
}

describe('TCP, the caller sends and reads (poll_progress=on, linger_us=0)', () => {
  it('polled WRITEs and READs of 4 KiB to 1 MiB land, every round checked by hash', async () => {
    const p = await pair();
    for (const [i, len] of SIZES.entries()) {
      // Several posts per request: the first is the I/O thread's, later ones
      // are left to this caller once it was seen polling.
      const write = requestAt(p, 'WRITE', len, 0);
      for (let round = 0; round < 6; round++) {
        fillPattern(p.local.subarray(0, len), 7 * i + round);
        pollUntilDone(p, write, performance.now() + 30_000);
        const remote = (await p.peer.send({ cmd: 'hash', off: 0, len })).hash;
        expect(remote, `WRITE ${len} B, round ${round}`).toBe(sha256(p.local.subarray(0, len)));
      }
      const read = requestAt(p, 'READ', len, 0);
      for (let round = 0; round < 6; round++) {
        await p.peer.send({ cmd: 'fill', off: 0, len, seed: 100 + 7 * i + round });
        const want = (await p.peer.send({ cmd: 'hash', off: 0, len })).hash;
        p.local.fill(0, 0, len);
        pollUntilDone(p, read, performance.now() + 30_000);
        expect(sha256(p.local.subarray(0, len)), `READ ${len} B, round ${round}`).toBe(want);
      }
      write.release();
      read.release();
    }
  }, 120_000);

  it('after a poll loop, awaited posts finish promptly and land', async () => {
    const p = await pair();
    for (const len of [4 << 10, 1 << 20]) {
      const write = requestAt(p, 'WRITE', len, 0);
      for (let round = 0; round < 10; round++) pollUntilDone(p, write, performance.now() + 30_000);
      // Left to a poller that now awaits: wait() hands the peer back to the
      // I/O thread (stopPolling) once its short spin is over.
      let slowest = 0;
      for (let round = 0; round < 10; round++) {
        fillPattern(p.local.subarray(0, len), 300 + round);
        const t0 = performance.now();
        p.agent.postXferReq(write);
        await write.wait({ signal: AbortSignal.timeout(10_000) });
        slowest = Math.max(slowest, performance.now() - t0);
        const remote = (await p.peer.send({ cmd: 'hash', off: 0, len })).hash;
        expect(remote, `${len} B awaited, round ${round}`).toBe(sha256(p.local.subarray(0, len)));
      }
      // A generous bound for a loaded machine: without the hand-back an
      // answer waits for the quiet watch (20 ms), with none at all forever.
      expect(slowest).toBeLessThan(1_000);
      write.release();
    }
  }, 120_000);

  it('once the caller stops polling, neither process keeps a core busy', async () => {
    const p = await pair();
    const req = requestAt(p, 'WRITE', 4 << 10, 0);
    for (let round = 0; round < 2000; round++) pollUntilDone(p, req, performance.now() + 30_000);
    // The peer stays left to this caller, which no longer polls: nothing may
    // spin for it (the I/O thread takes the peer back after the quiet watch).
    const before = [cpuMs(process.pid), cpuMs(p.peer.pid)];
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, 1000));
    const wallMs = performance.now() - t0;
    const used = [cpuMs(process.pid) - before[0]!, cpuMs(p.peer.pid) - before[1]!];
    // A spinning thread would use about wallMs; a generous bound for noise.
    for (const ms of used) expect(ms).toBeLessThan(wallMs / 4);
  }, 60_000);

  it('worker threads polling at once, each with its own agent, all land', async () => {
    const WORKERS = 3;
    const AREA = 256 << 10;
    const peer = new PeerProcess();
    try {
      const params = { port: '0', same_host: 'off', timeout_ms: String(TIMEOUT_MS) };
      const init = await peer.send(
        { cmd: 'init', backend: 'TCP', params, plugins: [], size: WORKERS * AREA, name: 'target' },
        30_000,
      );
      const results = await Promise.all(
        Array.from({ length: WORKERS }, (_, w) => {
          const worker = new Worker(new URL('./fixtures/lean-poll-worker.mjs', import.meta.url), {
            workerData: {
              md: init.md,
              remoteAddr: String(BigInt(init.addr!) + BigInt(w * AREA)),
              area: AREA,
              block: 4096 << (w % 3), // 4, 8 and 16 KiB blocks
              rounds: 5,
              seed: 500 + 10 * w,
              name: `lean-worker-${w}`,
              params: { ...params, ...LEAN },
            },
          });
          return new Promise<{ wrote: string; readBack: string }>((resolve, reject) => {
            worker.once('message', resolve);
            worker.once('error', reject);
            worker.once('exit', (code) => reject(new Error(`worker ${w} exited (${code})`)));
          });
        }),
      );
      for (const [w, r] of results.entries()) {
        const remote = (await peer.send({ cmd: 'hash', off: w * AREA, len: AREA })).hash;
        expect(remote, `worker ${w}: the target's copy`).toBe(r.wrote);
        expect(r.readBack, `worker ${w}: read back`).toBe(r.wrote);
      }
    } finally {
      peer.signal('SIGKILL');
      await peer.waitForExit(10_000).catch(() => {});
    }
  }, 120_000);

  for (const [op, len] of [
    ['READ', 4 << 10],
    ['WRITE', 64 << 10],
    ['WRITE', 1 << 20],
  ] as const) {
    it(`a target frozen in the middle of polled ${op}s of ${len >> 10} KiB fails them within timeout_ms`, async () => {
      const p = await pair();
      const req = requestAt(p, op, len, 0);
      for (let round = 0; round < 20; round++) pollUntilDone(p, req, performance.now() + 30_000);
      await expectFailsOnceFrozen(p, req, TIMEOUT_MS);
    }, 60_000);

    it(`a target killed in the middle of polled ${op}s of ${len >> 10} KiB fails them in bounded time`, async () => {
      const p = await pair();
      const req = requestAt(p, op, len, 0);
      for (let round = 0; round < 20; round++) pollUntilDone(p, req, performance.now() + 30_000);
      expectFailsOnceKilled(p, req, TIMEOUT_MS);
    }, 60_000);
  }
});
