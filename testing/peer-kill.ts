/**
 * Conformance groups for a remote backend whose peer dies or whose agent
 * closes in the middle of large transfers (part of `backendConformance`):
 *
 * - "peer killed mid-transfer": a target in its own process registers
 *   256 MiB; this process starts a 256 MiB READ from it (and, in another
 *   test, a 256 MiB WRITE to it), and the target is SIGKILLed after the first
 *   bytes have moved and before the transfer can end. Every run uses a fresh
 *   target process under a fresh agent name, against one initiator agent
 *   that must keep working across the runs (rule 4: the dead peer is dropped;
 *   the next one's metadata connects anew). A request that settles DONE must
 *   have its bytes verified by hash; every other one must fail with
 *   RemoteDisconnectError within a bound; most runs must end that way (a kill
 *   that came too late proves nothing), unless the configuration copies a
 *   whole request inside postXferReq (`copiesInsidePost`).
 * - "close() with transfers in flight": agent.close() with a 128 MiB READ and
 *   a 128 MiB WRITE in flight to a peer that is frozen (SIGSTOP) or running
 *   resolves within a bound, each request ends with a typed NixlError, or
 *   DONE with verified bytes, and once the peer runs again no byte of the
 *   initiator's memory changes. Both agents are child processes here.
 *
 * How each kill is timed is described at readRun and writeRun (and `watch`
 * in peer-process.ts). Nothing waits without a timeout.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { expect, it } from 'vitest';

import type { Agent } from '../src/agent.js';
import { NixlError, RemoteDisconnectError } from '../src/errors.js';
import type { XferState } from '../src/status.js';
import type { XferRequest } from '../src/xfer-request.js';
import { fillPattern, sha256 } from './pattern.js';
import { PeerProcess } from './peer-harness.js';
import type { PeerReply } from './peer-protocol.js';

export interface PeerKillOptions {
  /** Runs of each of READ and WRITE, each against a fresh target process (default 30). */
  runs?: number;
  /** Bytes the target registers and each transfer moves (default 256 MiB). */
  bytes?: number;
  /** Descriptors each transfer is split into, of equal size (default 1). */
  descriptors?: number;
  /** Bound from the kill to the request settling (default 15 s). */
  disconnectBoundMs?: number;
  /**
   * The configuration copies a whole request inside `postXferReq` (UCX on
   * memory it allocated, with shared memory between the processes: the post
   * is a memcpy into or out of the peer's mapped segment and returns DONE).
   * No kill can land mid-transfer then, so the group requires only that no
   * DONE is false and that nothing else fails, not that most runs end in
   * RemoteDisconnectError. Every DONE is still verified by hash. Default false.
   */
  copiesInsidePost?: boolean;
  /** Bound on agent.close() with transfers in flight (default 5 s). */
  closeBoundMs?: number;
  /**
   * A new initiator agent for every run, instead of one that outlives the
   * kills. Default false: reusing it also checks rule 4 (the agent keeps
   * working after a peer died mid-transfer; the next peer's metadata
   * connects). Set it for a configuration where a peer dying mid-transfer is
   * known to leave the survivor's transport unusable (UCX over shared memory,
   * see backends/ucx/README.md), so that each run still tests a kill
   * mid-transfer rather than a transfer that never starts.
   */
  initiatorPerRun?: boolean;
}

/** What the groups need from the suite. */
export interface PeerKillContext {
  type: string;
  params: Record<string, string>;
  plugins: string[];
  peerEnv?: NodeJS.ProcessEnv;
  allocBackend?: string;
  newAgent(prefix: string): Promise<Agent>;
  uniqueName(prefix: string): string;
}

const MiB = 1024 * 1024;
/** Bytes between the probes of "the first bytes have moved" (and between the tails checked). */
const STRIDE = MiB;
/** Spawning a peer, registering and filling its region. */
const PEER_SETUP_MS = 60_000;
/** No byte moved for this long after a post: kill anyway (reported). */
const FIRST_BYTES_MS = 10_000;
/**
 * Faster than any engine here moves bytes into a process (20 GB/s, in bytes
 * per µs): what bounds how much can land between a target's snapshot of its
 * region and its death.
 */
const MAX_BYTES_PER_US = 20_000;
/** Chunks that may be partly filled at once (streams, copy threads), so not counted as missing bytes. */
const PARTIAL_CHUNKS = 8;
/** What the READ destination holds before each run (a u32 of 0x5a bytes). */
const SENTINEL_BYTE = 0x5a;
const SENTINEL32 = 0x5a5a5a5a;

type Outcome = 'done' | 'false-done' | 'unverified-done' | 'disconnect' | 'other' | 'hang';

interface RunResult {
  outcome: Outcome;
  /** postXferReq itself returned DONE. */
  inPost: boolean;
  /** What timed the kill. */
  trigger: 'first-bytes' | 'settled-first' | 'no-bytes' | 'after-post' | 'refused-at-post';
  /** From the kill to the request settling, ms. */
  settleMs?: number;
  /** After a RemoteDisconnectError: the agent had dropped the peer's metadata. */
  dropped?: boolean;
  /** WRITE: from the target's snapshot of its region to its SIGKILL, µs. */
  windowUs?: number;
  detail?: string;
}

/**
 * Posts; a post the transport refuses at once with RemoteDisconnectError (UCX
 * over tcp under load can time out a fresh endpoint before any byte moved) is
 * a run that ended in the typed error, reported apart: no kill timed it.
 */
function postOrRefused(a: Agent, req: XferRequest, name: string): XferState | RunResult {
  try {
    return a.postXferReq(req);
  } catch (err) {
    if (!(err instanceof RemoteDisconnectError)) throw err;
    return {
      outcome: 'disconnect',
      inPost: false,
      trigger: 'refused-at-post',
      dropped: !a.checkRemoteMD(name),
      detail: describeError(err),
    };
  }
}

function words(buf: Buffer): Uint32Array {
  if (buf.byteOffset % 4 !== 0) throw new Error('the region is not 4-byte aligned');
  return new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength >>> 2);
}

/** Equal pieces (the last takes the remainder) of [0, bytes), as offsets and lengths. */
function pieces(bytes: number, n: number): { off: number; len: number }[] {
  const size = Math.floor(bytes / n);
  return Array.from({ length: n }, (_, i) => ({
    off: i * size,
    len: i === n - 1 ? bytes - i * size : size,
  }));
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** SIGKILL by pid; a process already gone is fine. */
function killByPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/**
 * Waits, on this thread, until one of the probed words of `buf` differs from
 * the sentinel (the first bytes of a READ landed), the request settles, or
 * the time is up. It sleeps ~50-100 µs between probes (cheap on two cores,
 * prompt against a transfer that takes tens of milliseconds at best) and
 * gives the event loop a turn every 20 ms.
 */
async function waitFirstBytes(
  buf: Buffer,
  req: XferRequest,
  timeoutMs: number,
): Promise<'first-bytes' | 'settled-first' | 'no-bytes'> {
  const w = words(buf);
  const step = STRIDE / 4;
  const chunks = Math.floor(buf.byteLength / STRIDE);
  const moved = () => {
    for (let i = 0, j = 0; i < chunks; i++, j += step)
      if (w[j] !== SENTINEL32 || w[j + 1] !== SENTINEL32) return true;
    return false;
  };
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const slice = performance.now() + 20;
    while (performance.now() < slice) {
      if (moved()) return 'first-bytes';
      Atomics.wait(sleeper, 0, 0, 0.05);
    }
    if (!req.active) return moved() ? 'first-bytes' : 'settled-first';
    if (performance.now() > deadline) return 'no-bytes';
    await new Promise((r) => setImmediate(r));
  }
}

/** Settles the request within `ms`: DONE, its error, or a hang. */
async function settle(
  req: XferRequest,
  ms: number,
): Promise<{ done: true } | { error: unknown } | { hang: true }> {
  try {
    await req.wait({ signal: AbortSignal.timeout(ms) });
    return { done: true };
  } catch (err) {
    if (err instanceof NixlError) return { error: err };
    if ((err as Error)?.name === 'TimeoutError') return { hang: true };
    return { error: err };
  }
}

function describeError(err: unknown): string {
  const e = err as Error;
  return `${e?.name ?? typeof err}: ${e?.message ?? String(err)}`;
}

interface Totals {
  runs: number;
  done: number;
  doneInPost: number;
  disconnect: number;
  falseDone: number;
  other: number;
  hang: number;
  unverified: number;
  notDropped: number;
  noBytes: number;
  settledFirst: number;
  afterPost: number;
  refusedAtPost: number;
  settleMs: number[];
  maxWindowUs?: number;
}

function totals(results: RunResult[]): Totals {
  const t: Totals = {
    runs: results.length,
    done: 0,
    doneInPost: 0,
    disconnect: 0,
    falseDone: 0,
    other: 0,
    hang: 0,
    unverified: 0,
    notDropped: 0,
    noBytes: 0,
    settledFirst: 0,
    afterPost: 0,
    refusedAtPost: 0,
    settleMs: [],
  };
  for (const r of results) {
    if (r.outcome === 'done') t.done++;
    if (r.outcome === 'done' && r.inPost) t.doneInPost++;
    if (r.outcome === 'disconnect') t.disconnect++;
    if (r.outcome === 'false-done') t.falseDone++;
    if (r.outcome === 'other') t.other++;
    if (r.outcome === 'hang') t.hang++;
    if (r.outcome === 'unverified-done') t.unverified++;
    if (r.windowUs !== undefined) t.maxWindowUs = Math.max(t.maxWindowUs ?? 0, r.windowUs);
    if (r.outcome === 'disconnect' && !r.dropped) t.notDropped++;
    if (r.trigger === 'no-bytes') t.noBytes++;
    if (r.trigger === 'settled-first') t.settledFirst++;
    if (r.trigger === 'after-post') t.afterPost++;
    if (r.trigger === 'refused-at-post') t.refusedAtPost++;
    if (r.outcome === 'disconnect' && r.settleMs !== undefined) t.settleMs.push(r.settleMs);
  }
  t.settleMs.sort((x, y) => x - y);
  return t;
}

function report(title: string, t: Totals, elapsedMs: number, copiesInsidePost: boolean): string {
  const ms = t.settleMs;
  const settle = ms.length
    ? ` (settled ${ms[0]!.toFixed(0)}-${ms.at(-1)!.toFixed(0)} ms after the kill, median ${ms[
        ms.length >> 1
      ]!.toFixed(0)})`
    : '';
  return (
    `[peer-kill] ${title}: ${t.runs} runs in ${(elapsedMs / 1000).toFixed(1)} s: ` +
    `${t.done} DONE verified by hash (${t.doneInPost} DONE inside postXferReq${
      copiesInsidePost ? ', expected: this configuration copies inside the post' : ''
    }), ${t.disconnect} RemoteDisconnectError${settle}, ${t.falseDone} false DONE, ` +
    `${t.unverified} DONE unverifiable, ${t.other} other error, ${t.hang} hung; ` +
    `${t.notDropped} disconnects left the peer loaded; ` +
    `kill timing: ${
      t.runs - t.noBytes - t.settledFirst - t.afterPost - t.refusedAtPost
    } after the first bytes, ` +
    `${t.refusedAtPost} posts refused (RemoteDisconnectError) before any byte moved, ` +
    `${t.afterPost} after a post that returned DONE, ` +
    `${t.settledFirst} settled before any byte was seen, ` +
    `${t.noBytes} with no byte moved ${FIRST_BYTES_MS / 1000} s after the post` +
    (t.maxWindowUs === undefined
      ? ''
      : `; the target's snapshot-to-SIGKILL window at most ${t.maxWindowUs.toFixed(0)} µs`)
  );
}

/** A fresh target process with `bytes` registered, known to `a` under a fresh name (and `a` to it). */
async function spawnTarget(
  ctx: PeerKillContext,
  a: Agent,
  bytes: number,
  fillSeed?: number,
): Promise<{ peer: PeerProcess; name: string; base: bigint }> {
  const peer = new PeerProcess(ctx.peerEnv);
  const name = ctx.uniqueName('victim');
  try {
    const init = await peer.send(
      {
        cmd: 'init',
        name,
        backend: ctx.type,
        params: ctx.params,
        plugins: ctx.plugins,
        size: bytes,
        allocBackend: ctx.allocBackend,
      },
      PEER_SETUP_MS,
    );
    if (fillSeed !== undefined)
      await peer.send({ cmd: 'fill', off: 0, len: bytes, seed: fillSeed }, PEER_SETUP_MS);
    expect(a.loadRemoteMD(Buffer.from(init.md!, 'base64'))).toBe(name);
    await peer.send(
      { cmd: 'load', md: Buffer.from(a.getLocalMD()).toString('base64') },
      PEER_SETUP_MS,
    );
    return { peer, name, base: BigInt(init.addr!) };
  } catch (err) {
    killByPid(peer.pid);
    throw err;
  }
}

/** After a run: the request released, the peer reaped, its metadata gone. */
async function cleanupRun(a: Agent, req: XferRequest | undefined, peer: PeerProcess, name: string) {
  req?.release();
  killByPid(peer.pid);
  await withTimeout(peer.exited, 10_000, 'reaping the killed peer').catch(() => {});
  if (a.checkRemoteMD(name)) {
    try {
      a.invalidateRemoteMD(name);
    } catch {
      // already dropped by a late disconnect
    }
  }
}

interface GroupSetup {
  a: Agent;
  local: Buffer;
  localBase: bigint;
  bytes: number;
  expectHash: string;
  descs(remoteBase: bigint): {
    local: { addr: bigint; len: number; devId: number }[];
    remote: { addr: bigint; len: number; devId: number }[];
  };
  /** A new initiator agent in place of the current one (`initiatorPerRun`). */
  renew(): Promise<void>;
  close(): Promise<void>;
}

async function groupSetup(
  ctx: PeerKillContext,
  o: Required<PeerKillOptions>,
  seed: number,
  fillLocal: boolean,
): Promise<GroupSetup> {
  const parts = pieces(o.bytes, o.descriptors);
  const initiator = async (reuse?: Buffer) => {
    const a = await ctx.newAgent('kill-init');
    // Memory a backend allocated belongs to that backend's context: a new agent allocates its own.
    const local = reuse ?? a.alloc(o.bytes, { backend: ctx.allocBackend }).buffer;
    if (fillLocal && !reuse) fillPattern(local, seed);
    return { a, local, localBase: a.registerMem(local).descs.at(0).addr };
  };
  const first = await initiator();
  let expectHash: string;
  if (fillLocal) expectHash = sha256(first.local);
  else {
    const scratch = Buffer.allocUnsafe(o.bytes);
    fillPattern(scratch, seed);
    expectHash = sha256(scratch);
  }
  const g: GroupSetup = {
    ...first,
    bytes: o.bytes,
    expectHash,
    descs: (remoteBase) => ({
      local: parts.map((p) => ({ addr: g.localBase + BigInt(p.off), len: p.len, devId: 0 })),
      remote: parts.map((p) => ({ addr: remoteBase + BigInt(p.off), len: p.len, devId: 0 })),
    }),
    async renew() {
      await g.close();
      Object.assign(g, await initiator(ctx.allocBackend ? undefined : g.local));
    },
    async close() {
      await withTimeout(g.a.close(), 30_000, 'closing the initiator').catch(() => {});
    },
  };
  return g;
}

/**
 * One READ run. "The first bytes moved" is seen on this side: the destination
 * is filled with a sentinel before the post, and this thread probes the
 * first 8 bytes of every MiB of it (every MiB, since a backend may fill
 * several pieces at once: streams, copy threads) with 50 µs sleeps between
 * probes; the moment one differs, the target is SIGKILLed by pid. The probe
 * and the kill run back to back on this thread, with no hop through the
 * event loop or another process, so the kill lands within a probe interval
 * of the first bytes even on a loaded two-core machine, long before a 256 MiB
 * transfer can end (tens of milliseconds at best here).
 */
async function readRun(
  ctx: PeerKillContext,
  g: GroupSetup,
  o: Required<PeerKillOptions>,
  seed: number,
): Promise<RunResult> {
  const { peer, name, base } = await spawnTarget(ctx, g.a, g.bytes, seed);
  let req: XferRequest | undefined;
  try {
    g.local.fill(SENTINEL_BYTE);
    const d = g.descs(base);
    req = g.a.createXferReq('READ', d.local, d.remote, name);
    const posted = postOrRefused(g.a, req, name);
    if (typeof posted !== 'string') return posted;
    let trigger: RunResult['trigger'];
    if (posted === 'DONE') trigger = 'after-post';
    else trigger = await waitFirstBytes(g.local, req, FIRST_BYTES_MS);
    // "First bytes moved" is seen on this side: the destination was filled
    // with a sentinel, so the first probe that differs is data that arrived.
    killByPid(peer.pid);
    const killedAt = performance.now();
    const s = await settle(req, o.disconnectBoundMs);
    const settleMs = performance.now() - killedAt;
    const inPost = posted === 'DONE';
    if ('done' in s) {
      const got = sha256(g.local);
      return got === g.expectHash
        ? { outcome: 'done', inPost, trigger, settleMs }
        : {
            outcome: 'false-done',
            inPost,
            trigger,
            settleMs,
            detail: 'DONE, but the destination does not hold the source bytes',
          };
    }
    if ('hang' in s)
      return {
        outcome: 'hang',
        inPost,
        trigger,
        detail: `not settled ${o.disconnectBoundMs} ms after the kill`,
      };
    if (s.error instanceof RemoteDisconnectError)
      return {
        outcome: 'disconnect',
        inPost,
        trigger,
        settleMs,
        dropped: !g.a.checkRemoteMD(name),
      };
    return { outcome: 'other', inPost, trigger, settleMs, detail: describeError(s.error) };
  } finally {
    await cleanupRun(g.a, req, peer, name);
  }
}

/**
 * One WRITE run. The first bytes are seen by the target, which watches its
 * own region (zeroed, the sentinel) and kills itself with SIGKILL the moment
 * one probe changes, after writing down how much had landed (see `watch` in
 * peer-process.ts for why the target pulls the trigger itself). This side
 * SIGKILLs it by pid as well once it answered (or died, or the watch timed
 * out), so no target outlives its run. The region dies with the target, so
 * a DONE is verified through that account: DONE with chunks still missing at
 * the death is false; DONE with none missing must match the hash the target
 * took before dying.
 */
async function writeRun(
  ctx: PeerKillContext,
  g: GroupSetup,
  o: Required<PeerKillOptions>,
): Promise<RunResult> {
  const { peer, name, base } = await spawnTarget(ctx, g.a, g.bytes);
  let req: XferRequest | undefined;
  const lw = words(g.local);
  const chunks = Math.floor(g.bytes / STRIDE);
  const tails: number[] = [];
  for (let i = 0; i < chunks; i++) {
    const w = ((i + 1) * STRIDE) / 4 - 2;
    tails.push(lw[w]!, lw[w + 1]!);
  }
  // Resolves once the target watches; `answer` is its account, written just before it dies.
  const arm = async (): Promise<{ answer: Promise<PeerReply> }> => {
    let off = () => {};
    const armed = new Promise<void>((resolve) => {
      off = peer.onEvent((e) => {
        if (e.event === 'armed') resolve();
      });
    });
    const answer = peer.send({
      cmd: 'watch',
      stride: STRIDE,
      sentinel: 0,
      tails,
      expectHash: g.expectHash,
      timeoutMs: FIRST_BYTES_MS,
    });
    answer.catch(() => {}); // looked at below
    try {
      await withTimeout(Promise.race([armed, answer.then(() => {})]), PEER_SETUP_MS, 'arming');
    } finally {
      off();
    }
    return { answer };
  };
  try {
    const d = g.descs(base);
    req = g.a.createXferReq('WRITE', d.local, d.remote, name);
    // A configuration that copies inside the post would have the target see
    // its bytes and die during the post: arm after it there (the watch fires
    // at once when bytes already changed).
    let watch = o.copiesInsidePost ? undefined : await arm();
    const posted = postOrRefused(g.a, req, name);
    if (typeof posted !== 'string') return posted;
    const inPost = posted === 'DONE';
    if (inPost && !watch) {
      // Copied inside the post, to a target still alive: verify by its hash, then kill it.
      const h = (await peer.send({ cmd: 'hash', off: 0, len: g.bytes }, PEER_SETUP_MS)).hash;
      killByPid(peer.pid);
      return h === g.expectHash
        ? { outcome: 'done', inPost, trigger: 'after-post' }
        : {
            outcome: 'false-done',
            inPost,
            trigger: 'after-post',
            detail: 'DONE inside the post, but the target does not hold the bytes',
          };
    }
    watch ??= await arm();
    let cert: PeerReply['watch'];
    let trigger: RunResult['trigger'] = 'first-bytes';
    try {
      cert = (await withTimeout(watch.answer, FIRST_BYTES_MS + 5_000, 'watch')).watch;
    } catch (err) {
      trigger = /no byte of the region changed/.test(String(err)) ? 'no-bytes' : 'first-bytes';
    }
    killByPid(peer.pid);
    const killedAt = performance.now();
    const s = await settle(req, o.disconnectBoundMs);
    const settleMs = performance.now() - killedAt;
    const windowUs = cert?.snapshotToKillUs;
    if ('done' in s) {
      if (inPost && !cert)
        return {
          outcome: 'false-done',
          inPost,
          trigger,
          detail: 'DONE inside the post, and the target died before it could vouch for its bytes',
        };
      if (!cert)
        return {
          outcome: 'false-done',
          inPost,
          trigger,
          settleMs,
          detail: 'DONE, and the target died without an account of its region (unverifiable)',
        };
      if (cert.missing > 0)
        return {
          // Bytes still land between the target's snapshot and its death
          // (µs apart, unless the target was descheduled). The DONE is
          // proven false when more was missing than could have landed in
          // that window; otherwise it is unproven either way (reported, and
          // counted as not a disconnect).
          outcome:
            cert.snapshotToKillUs * MAX_BYTES_PER_US < (cert.missing - PARTIAL_CHUNKS) * STRIDE
              ? 'false-done'
              : 'unverified-done',
          inPost,
          trigger,
          settleMs,
          windowUs: cert.snapshotToKillUs,
          detail:
            `DONE, but the target died with ${cert.missing} of ${cert.chunks} MiB chunks ` +
            `incomplete (snapshot ${cert.snapshotToKillUs.toFixed(0)} µs before its SIGKILL)` +
            (inPost
              ? '; the DONE came from inside postXferReq: if this configuration copies inside the post, say so (copiesInsidePost)'
              : ''),
        };
      return cert.hash === g.expectHash
        ? { outcome: 'done', inPost, trigger, settleMs, windowUs }
        : {
            outcome: 'false-done',
            inPost,
            trigger,
            settleMs,
            detail: 'DONE, but the region the target hashed before dying differs',
          };
    }
    if ('hang' in s)
      return {
        outcome: 'hang',
        inPost,
        trigger,
        detail: `not settled ${o.disconnectBoundMs} ms after the kill`,
      };
    if (s.error instanceof RemoteDisconnectError)
      return {
        outcome: 'disconnect',
        inPost,
        trigger,
        settleMs,
        windowUs,
        dropped: !g.a.checkRemoteMD(name),
      };
    return {
      outcome: 'other',
      inPost,
      trigger,
      settleMs,
      windowUs,
      detail: describeError(s.error),
    };
  } finally {
    await cleanupRun(g.a, req, peer, name);
  }
}

function assertRuns(results: RunResult[], o: Required<PeerKillOptions>): void {
  const t = totals(results);
  const bad = results
    .map((r, i) => ({ ...r, run: i + 1 }))
    .filter((r) => r.outcome !== 'done' && r.outcome !== 'disconnect');
  const lines = bad.map((r) => `run ${r.run}: ${r.outcome}: ${r.detail ?? ''}`).join('\n');
  expect(t.falseDone, `false DONEs:\n${lines}`).toBe(0);
  expect(t.hang, `requests not settled within the bound:\n${lines}`).toBe(0);
  expect(t.other, `errors other than RemoteDisconnectError:\n${lines}`).toBe(0);
  expect(t.notDropped, 'the agent kept the metadata of a peer that failed a transfer').toBe(0);
  expect(
    t.noBytes,
    `transfers that moved no byte within ${FIRST_BYTES_MS} ms of their post (a stuck transport)`,
  ).toBe(0);
  if (!o.copiesInsidePost) {
    const midTransfer = results.filter(
      (r) => r.outcome === 'disconnect' && r.trigger === 'first-bytes',
    ).length;
    expect(
      midTransfer,
      'most runs must end in RemoteDisconnectError after a kill that landed mid-transfer ' +
        '(a kill after the transfer ended, or before it started, proves nothing)',
    ).toBeGreaterThan(t.runs / 2);
  }
}

export function resolvePeerKillOptions(o: PeerKillOptions = {}): Required<PeerKillOptions> {
  return {
    runs: o.runs ?? 30,
    bytes: o.bytes ?? 256 * MiB,
    descriptors: o.descriptors ?? 1,
    disconnectBoundMs: o.disconnectBoundMs ?? 15_000,
    copiesInsidePost: o.copiesInsidePost ?? false,
    closeBoundMs: o.closeBoundMs ?? 5_000,
    initiatorPerRun: o.initiatorPerRun ?? false,
  };
}

/** The "peer killed mid-transfer" cases; call inside a describe. */
export function peerKillCases(ctx: PeerKillContext, opts: PeerKillOptions = {}): void {
  const o = resolvePeerKillOptions(opts);
  const testTimeout = o.runs * (2 * PEER_SETUP_MS) + 60_000;
  const title = `${ctx.type} ${JSON.stringify(ctx.params)}${
    ctx.allocBackend ? ` alloc ${ctx.allocBackend}` : ''
  }`;

  for (const op of ['READ', 'WRITE'] as const) {
    it(
      `${op} of ${o.bytes / MiB} MiB, ${o.runs} fresh targets each SIGKILLed once the first bytes landed: RemoteDisconnectError within ${o.disconnectBoundMs} ms or DONE with verified bytes`,
      async ({ annotate }) => {
        const seed = op === 'READ' ? 0x5eed01 : 0x5eed02;
        const g = await groupSetup(ctx, o, seed, op === 'WRITE');
        const started = performance.now();
        const results: RunResult[] = [];
        try {
          for (let i = 0; i < o.runs; i++) {
            if (i > 0 && o.initiatorPerRun) await g.renew();
            results.push(
              op === 'READ' ? await readRun(ctx, g, o, seed) : await writeRun(ctx, g, o),
            );
          }
        } finally {
          await g.close();
        }
        const line = report(
          `${title} ${op}`,
          totals(results),
          performance.now() - started,
          o.copiesInsidePost,
        );
        console.log(line);
        await annotate(line);
        assertRuns(results, o);
      },
      testTimeout,
    );
  }
}

/** A peer process with `bytes` registered under a fresh name: its metadata and region address. */
async function spawnPeer(
  ctx: PeerKillContext,
  prefix: string,
  bytes: number,
): Promise<{ peer: PeerProcess; name: string; md: string; base: bigint }> {
  const peer = new PeerProcess(ctx.peerEnv);
  const name = ctx.uniqueName(prefix);
  try {
    const init = await peer.send(
      {
        cmd: 'init',
        name,
        backend: ctx.type,
        params: ctx.params,
        plugins: ctx.plugins,
        size: bytes,
        allocBackend: ctx.allocBackend,
      },
      PEER_SETUP_MS,
    );
    return { peer, name, md: init.md!, base: BigInt(init.addr!) };
  } catch (err) {
    killByPid(peer.pid);
    throw err;
  }
}

/**
 * The "close() with transfers in flight" cases; call inside a describe. The
 * initiator runs in a child process too (peer-process.ts, InitiatorCommand):
 * a crash while closing then fails the test with the child's stderr instead
 * of taking the test worker down.
 */
export function closeInFlightCases(ctx: PeerKillContext, opts: PeerKillOptions = {}): void {
  const o = resolvePeerKillOptions(opts);
  const half = Math.floor(o.bytes / 2 / STRIDE) * STRIDE;

  it.for(['frozen with SIGSTOP', 'running'] as const)(
    `agent.close() with a ${half / MiB} MiB READ and WRITE in flight to a peer %s resolves within ${o.closeBoundMs} ms; each request ends with a NixlError or DONE with verified bytes; no byte of the initiator's memory changes after`,
    { timeout: PEER_SETUP_MS * 3 },
    async (state, { annotate }) => {
      const readSeed = 0x5eed03;
      const writeSeed = 0x5eed04;
      const expected = Buffer.allocUnsafe(half);
      fillPattern(expected, readSeed);
      const readHash = sha256(expected);
      fillPattern(expected, writeSeed);
      const writeHash = sha256(expected);
      const target = await spawnPeer(ctx, 'close-tgt', 2 * half);
      let init: Awaited<ReturnType<typeof spawnPeer>> | undefined;
      let stopped = false;
      try {
        init = await spawnPeer(ctx, 'close-init', 2 * half);
        const [t, i] = [target.peer, init.peer];
        // The target's first half is READ into the initiator's; the
        // initiator's second half is WRITTEN to the target's second half.
        await t.send({ cmd: 'fill', off: 0, len: half, seed: readSeed }, PEER_SETUP_MS);
        await i.send({ cmd: 'fill', off: half, len: half, seed: writeSeed }, PEER_SETUP_MS);
        await i.send({ cmd: 'load', md: target.md }, PEER_SETUP_MS);
        await t.send({ cmd: 'load', md: init.md }, PEER_SETUP_MS);
        const post = (op: 'READ' | 'WRITE', off: number, len: number, sentinel?: number) =>
          i.send(
            {
              cmd: 'post',
              op,
              peer: target.name,
              localOff: off,
              remoteAddr: String(target.base + BigInt(off)),
              len,
              sentinel,
            },
            PEER_SETUP_MS,
          );
        // Connect first (a small transfer each way), so that the large ones are in flight, not connecting.
        for (const w of [await post('WRITE', half, 4096), await post('READ', 0, 4096)])
          await i.send({ cmd: 'wait', xfer: w.xfer!, timeoutMs: 30_000 }, 40_000);
        const read = await post('READ', 0, half, SENTINEL_BYTE);
        const write = await post('WRITE', half, half);
        if (read.state !== 'DONE')
          await i.send(
            {
              cmd: 'firstBytes',
              off: 0,
              len: half,
              sentinel: SENTINEL_BYTE,
              timeoutMs: FIRST_BYTES_MS,
            },
            FIRST_BYTES_MS + 10_000,
          );
        if (state === 'frozen with SIGSTOP') {
          t.signal('SIGSTOP');
          stopped = true;
        }
        const closed = await i.send(
          { cmd: 'closeAgent', timeoutMs: o.closeBoundMs },
          o.closeBoundMs + 30_000,
        );
        if (stopped) {
          t.signal('SIGCONT');
          stopped = false;
        }
        const verdicts: string[] = [];
        for (const [k, end] of closed.ends!.slice(2).entries()) {
          const what = k === 0 ? 'READ' : 'WRITE';
          if (end === 'DONE') {
            const got =
              k === 0
                ? closed.hashes![2]
                : (await t.send({ cmd: 'hash', off: half, len: half }, PEER_SETUP_MS)).hash;
            verdicts.push(
              got === (k === 0 ? readHash : writeHash)
                ? `${what} DONE, verified`
                : `${what} DONE but its bytes differ`,
            );
          } else verdicts.push(`${what} ${end}`);
        }
        // The peer, running again, must not have written into the closed initiator's memory.
        await sleep(500);
        const { changed } = await i.send({ cmd: 'changedSinceClose' }, PEER_SETUP_MS);
        const line =
          `[close-in-flight] ${ctx.type} ${JSON.stringify(ctx.params)}, peer ${state}: ` +
          `posts ${read.state}/${write.state}, close() ${
            closed.closeMs === undefined
              ? `did not resolve within ${o.closeBoundMs} ms`
              : `resolved in ${closed.closeMs.toFixed(0)} ms`
          }; ${verdicts.join(', ')}` +
          (read.state === 'DONE' && write.state === 'DONE'
            ? ' (both copied inside the post, verified by hash)'
            : '') +
          `; the initiator's memory ${changed ? 'CHANGED' : 'did not change'} after close()`;
        console.log(line);
        await annotate(line);
        expect(closed.closeMs, line).toBeDefined();
        for (const v of verdicts) expect(v, line).toMatch(/DONE, verified$|Error$/);
        expect(changed, `${line}: an engine wrote into memory after close() resolved`).toBe(false);
      } finally {
        if (stopped) target.peer.signal('SIGCONT');
        for (const p of [target.peer, init?.peer]) {
          if (!p) continue;
          killByPid(p.pid);
          await withTimeout(p.exited, 10_000, 'reaping a peer').catch(() => {});
        }
      }
    },
  );
}
