/**
 * errorHandling 'process' on memory UCX allocated: a put is a memcpy into the
 * target's segment, which the initiator has mapped and keeps mapped after the
 * target died, so UCX reports such a copy a success whether or not anyone
 * still holds the bytes. Inside postXferReq that is safe (the target lived
 * through the copy). Here the copy is made to happen after the post: the
 * target is frozen (SIGSTOP) and its shared-memory FIFO filled with the first
 * messages of fresh endpoints to it, so that the last one's first message
 * waits, and so does a WRITE posted on that endpoint
 * (UcxEngine::SendHandshake); the progress thread copies once the target runs
 * again, and the target SIGKILLs itself when it sees the first bytes
 * (testing/peer-process.ts, `watch`).
 * Such a WRITE must end in RemoteDisconnectError, never in DONE for bytes the
 * target did not hold when it died.
 */
import { readFileSync } from 'node:fs';

import { expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { RemoteDisconnectError } from '../../src/errors.js';
import { fillPattern, sha256 } from '../../testing/pattern.js';
import { PeerProcess } from '../../testing/peer-harness.js';
import type { PeerReply } from '../../testing/peer-protocol.js';
import { reportUcxUnavailable, UCX_AVAILABLE } from './ucx-gate.js';

const PARAMS = { profile: 'shm', devices: 'lo', errorHandling: 'process' };
const MiB = 1 << 20;
const BYTES = 256 * MiB;
/** Probe spacing of the target's watch (as in testing/peer-kill.ts). */
const STRIDE = MiB;
/** Endpoints made to the frozen target: more than its FIFO holds (UCX_POSIX_FIFO_SIZE, 64). */
const RECONNECTS = 80;
const RUNS = 6;
const SETUP_MS = 60_000;
const SETTLE_MS = 15_000;

function killByPid(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The target agent in `peer`, on `size` bytes that its UCX allocated. */
function initTarget(peer: PeerProcess, name: string, size: number): Promise<PeerReply> {
  return peer.send(
    { cmd: 'init', name, backend: 'UCX', params: PARAMS, plugins: [], size, allocBackend: 'UCX' },
    SETUP_MS,
  );
}

/**
 * Whether every thread of process `pid` has exited (a zombie left for its
 * parent to reap, or gone). The leader turns zombie while other threads may
 * still be exiting; the process has exited (its pidfd readable) once only the
 * leader is counted.
 */
function exitedWholly(pid: number): boolean {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return true;
  }
  return /^State:\s+[ZX]/m.test(status) && /^Threads:\s+1$/m.test(status);
}

type Outcome = 'not-deferred' | 'disconnect' | 'done-verified' | 'false-done' | 'other';

if (!UCX_AVAILABLE) reportUcxUnavailable('UCX: a put copied after the post to a target that dies');
else {
  it(`errorHandling 'process', UCX-allocated memory: a WRITE of 256 MiB that UCX copies after postXferReq, into a target killed mid-copy, ends in RemoteDisconnectError, never DONE (${RUNS} fresh targets)`, async () => {
    const a = await Agent.create({
      name: `late-copy-i-${process.pid}`,
      backends: [{ type: 'UCX', params: PARAMS }],
    });
    const outcomes: { outcome: Outcome; missing?: number; detail: string }[] = [];
    try {
      const local = a.alloc(BYTES, { backend: 'UCX' }).buffer;
      fillPattern(local, 7);
      const localBase = a.registerMem(local).descs.at(0).addr;
      const expectHash = sha256(local);
      const lw = new Uint32Array(local.buffer, local.byteOffset, BYTES / 4);
      const tails: number[] = [];
      for (let i = 0; i < BYTES / STRIDE; i++) {
        const w = ((i + 1) * STRIDE) / 4 - 2;
        tails.push(lw[w]!, lw[w + 1]!);
      }
      for (let run = 0; run < RUNS; run++) {
        const name = `late-copy-t-${process.pid}-${run}`;
        const peer = new PeerProcess();
        let stopped = false;
        try {
          const init = await initTarget(peer, name, BYTES);
          const md = Buffer.from(init.md!, 'base64');
          a.loadRemoteMD(md);
          // The target watches its (zeroed) region from now on, and dies at the first bytes.
          let offArmed = () => {};
          const armed = new Promise<void>((resolve) => {
            offArmed = peer.onEvent((e) => e.event === 'armed' && resolve());
          });
          const answer: Promise<PeerReply> = peer.send({
            cmd: 'watch',
            stride: STRIDE,
            sentinel: 0,
            tails,
            expectHash,
            timeoutMs: 20_000,
          });
          answer.catch(() => {});
          await withTimeout(armed, SETUP_MS, 'arming the watch').finally(offArmed);
          killByPid(peer.pid, 'SIGSTOP');
          stopped = true;
          // Every fresh endpoint's first message takes a slot of the frozen
          // target's FIFO; once they are all taken, the last endpoint's waits.
          for (let i = 0; i < RECONNECTS; i++) {
            a.invalidateRemoteMD(name);
            a.loadRemoteMD(md);
          }
          const req = a.createXferReq(
            'WRITE',
            [{ addr: localBase, len: BYTES, devId: 0 }],
            [{ addr: BigInt(init.addr!), len: BYTES, devId: 0 }],
            name,
          );
          const posted = a.postXferReq(req);
          killByPid(peer.pid, 'SIGCONT');
          stopped = false;
          if (posted === 'DONE') {
            outcomes.push({ outcome: 'not-deferred', detail: 'DONE inside the post' });
            continue;
          }
          const cert = (await withTimeout(answer, 30_000, 'the watch')).watch!;
          let outcome: Outcome;
          let detail: string;
          try {
            await req.wait({ signal: AbortSignal.timeout(SETTLE_MS) });
            outcome =
              cert.missing === 0 && cert.hash === expectHash ? 'done-verified' : 'false-done';
            detail = `DONE; the target died with ${cert.missing} of ${cert.chunks} MiB chunks incomplete`;
          } catch (err) {
            outcome = err instanceof RemoteDisconnectError ? 'disconnect' : 'other';
            detail = `${(err as Error).name}: ${(err as Error).message}`;
          }
          outcomes.push({ outcome, missing: cert.missing, detail });
          req.release();
        } finally {
          if (stopped) killByPid(peer.pid, 'SIGCONT');
          killByPid(peer.pid);
          await withTimeout(peer.exited, 10_000, 'reaping the target').catch(() => {});
          if (a.checkRemoteMD(name)) {
            try {
              a.invalidateRemoteMD(name);
            } catch {
              // dropped meanwhile by the process watch
            }
          }
        }
      }
    } finally {
      await a.close();
    }
    const count = (o: Outcome) => outcomes.filter((x) => x.outcome === o).length;
    const midCopy = outcomes.filter((x) => x.missing !== undefined && x.missing > 0).length;
    console.log(
      `[late-copy] ${RUNS} runs: ${count('not-deferred')} copied inside the post, ` +
        `${count('disconnect')} RemoteDisconnectError, ${count('done-verified')} DONE verified, ` +
        `${count('false-done')} false DONE, ${count('other')} other; ${midCopy} killed mid-copy\n` +
        outcomes.map((o, i) => `  run ${i}: ${o.outcome}: ${o.detail}`).join('\n'),
    );
    expect(count('false-done')).toBe(0);
    expect(count('other')).toBe(0);
    // The path under test was taken: copies after the post, killed mid-copy.
    expect(midCopy).toBeGreaterThan(0);
  }, 300_000);

  // The copy inside the post to a target that has already exited, before this
  // process's event loop could run the pidfd watch that would drop it: the
  // segment is still mapped here, so the memcpy succeeds; the post must not
  // call that DONE.
  it(`errorHandling 'process', UCX-allocated memory: a WRITE posted to a target that exited a moment before (its exit not yet seen by the event loop) is not DONE`, async () => {
    const a = await Agent.create({
      name: `dead-before-post-i-${process.pid}`,
      backends: [{ type: 'UCX', params: PARAMS }],
    });
    const peer = new PeerProcess();
    try {
      const size = 4 * MiB;
      const name = `dead-before-post-t-${process.pid}`;
      const init = await initTarget(peer, name, size);
      a.loadRemoteMD(Buffer.from(init.md!, 'base64'));
      const local = a.alloc(size, { backend: 'UCX' }).buffer;
      fillPattern(local, 3);
      const localBase = a.registerMem(local).descs.at(0).addr;
      const descs = () =>
        [
          [{ addr: localBase, len: size, devId: 0 }],
          [{ addr: BigInt(init.addr!), len: size, devId: 0 }],
        ] as const;
      // One WRITE while the target lives: the path copies inside the post.
      const warm = a.createXferReq('WRITE', ...descs(), name);
      expect(a.postXferReq(warm)).toBe('DONE');
      warm.release();
      const req = a.createXferReq('WRITE', ...descs(), name);
      // Kill it and wait, without yielding to the event loop, until the kernel
      // has ended it (a zombie: its parent, this process, has not reaped it),
      // every thread of it.
      killByPid(peer.pid);
      const until = Date.now() + 10_000;
      for (;;) {
        if (exitedWholly(peer.pid)) break;
        if (Date.now() > until) throw new Error(`process ${peer.pid} did not exit within 10 s`);
      }
      let outcome: string;
      try {
        const posted = a.postXferReq(req);
        outcome =
          posted === 'DONE'
            ? 'DONE'
            : await req.wait({ signal: AbortSignal.timeout(SETTLE_MS) }).then(() => 'DONE');
      } catch (err) {
        outcome =
          err instanceof RemoteDisconnectError
            ? 'RemoteDisconnectError'
            : `${(err as Error).name}: ${(err as Error).message}`;
      }
      expect(outcome).toBe('RemoteDisconnectError');
    } finally {
      killByPid(peer.pid);
      await withTimeout(peer.exited, 10_000, 'reaping the target').catch(() => {});
      await a.close();
    }
  }, 120_000);
}
