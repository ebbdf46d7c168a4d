// What the TCP engine's polling tests (tcp-poll, tcp-poll-send, tcp-linger,
// tcp-socket-write, tcp-poll-lean, tcp-poll-park, tcp-congestion) share: an initiator agent in this process, connected to a
// target agent in a child process, each with one registered region; requests
// over that region; and the poll loop nixlbench runs (post, then
// getXferStatus until DONE).
import { expect } from 'vitest';

import { Agent } from '../../src/agent.js';
import { NotFoundError, RemoteDisconnectError } from '../../src/errors.js';
import type { XferRequest } from '../../src/xfer-request.js';
import { PeerProcess } from '../../testing/peer-harness.js';
import { fillPattern, sha256 } from '../../testing/pattern.js';
import { waitStopped } from '../proc-stat.js';

/** An initiator here and its target, an agent named 'target' in a child process. */
export interface TcpPair {
  peer: PeerProcess;
  agent: Agent;
  /** The initiator's registered region and its address. */
  local: Buffer;
  localAddr: bigint;
  /** The target's registered region's address, in the target's address space. */
  remoteAddr: bigint;
}

export interface TcpPairOptions {
  /** The initiator agent's name. */
  name: string;
  /** The size of the region each side registers. */
  regionBytes: number;
  /** The TCP params of both sides. */
  params: Record<string, string>;
  /** Params only the initiator adds to (or overrides in) `params`. */
  initiatorParams?: Record<string, string>;
  /** The initiator's AgentOptions.waitSpinUs. */
  waitSpinUs?: number;
}

/**
 * The pairs a test file started, closed after each test. Call `closeAll` from
 * `afterEach`: a test may have killed or frozen the target, so the teardown
 * must not depend on it answering.
 */
export class TcpPairs {
  readonly #open: TcpPair[] = [];

  /** Starts the target process, then the initiator, loads the target's metadata and connects. */
  async start(o: TcpPairOptions): Promise<TcpPair> {
    const peer = new PeerProcess();
    const init = await peer.send(
      {
        cmd: 'init',
        backend: 'TCP',
        params: o.params,
        plugins: [],
        size: o.regionBytes,
        name: 'target',
      },
      30_000,
    );
    const agent = await Agent.create({
      name: o.name,
      backends: [{ type: 'TCP', params: { ...o.params, ...o.initiatorParams } }],
      waitSpinUs: o.waitSpinUs,
    });
    const { buffer: local, desc } = agent.alloc(o.regionBytes);
    agent.registerMem(local);
    agent.loadRemoteMD(Buffer.from(init.md!, 'base64'));
    await agent.makeConnection('target');
    const p = { peer, agent, local, localAddr: desc.addr, remoteAddr: BigInt(init.addr!) };
    this.#open.push(p);
    return p;
  }

  /** Closes every initiator and kills every target (by PID), waiting for it to exit. */
  async closeAll(): Promise<void> {
    for (const p of this.#open.splice(0)) {
      // A target a test froze (SIGSTOP) runs again first; a no-op for one that runs.
      p.peer.signal('SIGCONT');
      await p.agent.close();
      p.peer.signal('SIGKILL');
      await p.peer.waitForExit(10_000).catch(() => {});
    }
  }
}

/** One request per block: block i of the local region to block i of the target's. */
export function blockRequests(
  p: TcpPair,
  op: 'READ' | 'WRITE',
  blocks: number,
  blockBytes: number,
): XferRequest[] {
  return Array.from({ length: blocks }, (_, i) =>
    p.agent.createXferReq(
      op,
      [{ addr: p.localAddr + BigInt(i * blockBytes), len: blockBytes, devId: 0 }],
      [{ addr: p.remoteAddr + BigInt(i * blockBytes), len: blockBytes, devId: 0 }],
      'target',
    ),
  );
}

/** A READ or WRITE of `len` bytes between local offset 0 and target offset `at`. */
export function requestAt(p: TcpPair, op: 'READ' | 'WRITE', len: number, at: number): XferRequest {
  return p.agent.createXferReq(
    op,
    [{ addr: p.localAddr, len, devId: 0 }],
    [{ addr: p.remoteAddr + BigInt(at), len, devId: 0 }],
    'target',
  );
}

/** A WRITE of `len` bytes from local offset 0 to target offset `at`. */
export function writeAt(p: TcpPair, len: number, at: number): XferRequest {
  return requestAt(p, 'WRITE', len, at);
}

/** Posts `req` and polls getXferStatus until DONE, as the benchmarks' timed loops do. */
export function pollUntilDone(p: TcpPair, req: XferRequest, deadline: number): void {
  if (p.agent.postXferReq(req) === 'DONE') return;
  while (p.agent.getXferStatus(req) !== 'DONE') {
    if (performance.now() > deadline) throw new Error('a polled transfer did not finish');
  }
}

/** Polls each request in turn to DONE, `rounds` times over; returns the posts made. */
export function pollRounds(
  p: TcpPair,
  reqs: XferRequest[],
  rounds: number,
  deadline: number,
): number {
  let posts = 0;
  for (let r = 0; r < rounds; r++) {
    for (const req of reqs) {
      posts++;
      pollUntilDone(p, req, deadline);
    }
  }
  return posts;
}

/** Reposts `req` to a target that stopped answering until a post fails; the error. */
export function failAfter(p: TcpPair, req: XferRequest, deadline: number): unknown {
  try {
    for (;;) pollUntilDone(p, req, deadline);
  } catch (err) {
    return err;
  }
}

/** What a failure may take past timeout_ms on a loaded 2-core machine. */
const FAILURE_SLACK_MS = 8000;

/**
 * Freezes the target (SIGSTOP) with `req` in use: nothing answers, so
 * timeout_ms fails the next posts with a RemoteDisconnectError, within
 * `timeoutMs` and a generous margin.
 */
export async function expectFailsOnceFrozen(
  p: TcpPair,
  req: XferRequest,
  timeoutMs: number,
): Promise<void> {
  p.peer.signal('SIGSTOP');
  await waitStopped(p.peer.pid);
  const t0 = performance.now();
  const error = failAfter(p, req, t0 + 30_000);
  expect(error).toBeInstanceOf(RemoteDisconnectError);
  expect(performance.now() - t0).toBeLessThan(timeoutMs + FAILURE_SLACK_MS);
}

/**
 * Kills the target (SIGKILL) with `req` in use: the next posts fail within
 * `timeoutMs` and a generous margin, with a RemoteDisconnectError, or a
 * NotFoundError once the agent has dropped the peer.
 */
export function expectFailsOnceKilled(p: TcpPair, req: XferRequest, timeoutMs: number): void {
  p.peer.signal('SIGKILL');
  const t0 = performance.now();
  const error = failAfter(p, req, t0 + 30_000);
  expect(error instanceof RemoteDisconnectError || error instanceof NotFoundError).toBe(true);
  expect(performance.now() - t0).toBeLessThan(timeoutMs + FAILURE_SLACK_MS);
}

/**
 * Moves every size both ways, polled, three rounds each, and checks each
 * transfer by hash (the target's for a WRITE, ours for a READ); a size's
 * requests target a page-unaligned offset of their own.
 */
export async function pollRoundTripsByHash(p: TcpPair, sizes: readonly number[]): Promise<void> {
  for (const [i, len] of sizes.entries()) {
    const at = 4096 * (i + 1) + 8 * i; // not page-aligned on the target
    const write = requestAt(p, 'WRITE', len, at);
    const read = requestAt(p, 'READ', len, at);
    for (let round = 0; round < 3; round++) {
      fillPattern(p.local.subarray(0, len), 17 * i + round);
      pollUntilDone(p, write, performance.now() + 30_000);
      const remote = (await p.peer.send({ cmd: 'hash', off: at, len })).hash;
      expect(remote, `WRITE ${len} bytes, round ${round}`).toBe(sha256(p.local.subarray(0, len)));

      await p.peer.send({ cmd: 'fill', off: at, len, seed: 1000 + 17 * i + round });
      const want = (await p.peer.send({ cmd: 'hash', off: at, len })).hash;
      p.local.fill(0, 0, len);
      pollUntilDone(p, read, performance.now() + 30_000);
      expect(sha256(p.local.subarray(0, len)), `READ ${len} bytes, round ${round}`).toBe(want);
    }
    write.release();
    read.release();
  }
}
