/**
 * The conformance suite every backend passes: the built-ins and any plugin
 * an author writes (exported as `nixl-ts/testing`). Call it from a vitest
 * file with top-level await:
 *
 *   await backendConformance('TCP', { params: { port: '0' } });
 *
 * Groups a backend's capabilities rule out are reported as skipped.
 */
import { randomBytes } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { Agent } from '../src/agent.js';
import type { BackendCapabilities, BackendParams } from '../src/backend.js';
import { DescList, type MemType } from '../src/descriptors.js';
import {
  InvalidParamError,
  NotAllowedError,
  NotFoundError,
  NotPostedError,
  RemoteDisconnectError,
  RepostActiveError,
} from '../src/errors.js';
import type { Registration } from '../src/registration.js';
import { isStatusCode, Status } from '../src/status.js';
import { fillPattern, sha256 } from './pattern.js';
import { PeerProcess } from './peer-harness.js';
import { closeInFlightCases, peerKillCases, type PeerKillOptions } from './peer-kill.js';
import { NOTIF_WINDOW, type TransferPair } from './transfer-pair.js';

export interface ConformanceOptions {
  /** Parameters for the backend under test. */
  params?: BackendParams;
  /** Plugin modules (specifiers or paths) to load in every agent, for out-of-tree backends. */
  plugins?: string[];
  /** Run the remote groups across two processes too (default: true). */
  twoProcess?: boolean;
  /** Bound on how long a dead peer may take to fail a transfer (default 20 s). */
  disconnectBoundMs?: number;
  /** Environment for the peer process (e.g. transport selection). */
  peerEnv?: NodeJS.ProcessEnv;
  /** The outer describe's title (default: "<type> conformance"), to tell variants apart. */
  title?: string;
  /** Allocate the transfer regions with this backend (agent.alloc's `backend`). */
  allocBackend?: string;
  /**
   * The "peer killed mid-transfer" and "close() with transfers in flight"
   * groups (remote backends, two processes; see peer-kill.ts): how many runs,
   * their bounds, and whether this configuration copies a whole request
   * inside postXferReq. `false` leaves both groups out. Default: 30 runs each
   * of READ and WRITE of 256 MiB.
   */
  peerKill?: PeerKillOptions | false;
  /**
   * A storage backend's target (FILE, OBJ): the loopback group then moves
   * data between the agent's DRAM and a region this makes, instead of a
   * second DRAM buffer. Groups that need notifications are skipped for a
   * backend without them (as NIXL's storage plugins).
   */
  storageTarget?: StorageTarget;
}

/** Makes the target region of the loopback group for a storage backend. */
export interface StorageTarget {
  readonly memType: MemType;
  /** A registered, zero-filled target of `bytes` bytes on agent `a`. */
  create(a: Agent, bytes: number): Promise<StorageRegion>;
}

export interface StorageRegion {
  /** The descriptors' address of the region's first byte (a file offset, ...), and its devId. */
  readonly base: bigint;
  readonly devId: number;
  fill(off: number, len: number, seed: number): Promise<void>;
  hash(off: number, len: number): Promise<string>;
  close(): Promise<void>;
}

const MiB = 1024 * 1024;
const REGION = 64 * MiB;
const WAIT_MS = 30_000;

let nameCounter = 0;
function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${++nameCounter}-${randomBytes(3).toString('hex')}`;
}

async function newAgent(type: string, opts: ConformanceOptions, prefix: string): Promise<Agent> {
  return Agent.create({
    name: uniqueName(prefix),
    plugins: opts.plugins,
    backends: [{ type, params: opts.params }],
  });
}

/** Descriptors for [off, off+len) of a region that starts at `base`. */
function range(
  base: bigint,
  off: number,
  len: number,
): { addr: bigint; len: number; devId: number } {
  return { addr: base + BigInt(off), len, devId: 0 };
}

async function loopbackPair(type: string, opts: ConformanceOptions): Promise<TransferPair> {
  const a = await newAgent(type, opts, 'loop');
  const local = a.alloc(REGION, { backend: opts.allocBackend }).buffer;
  if (opts.storageTarget) {
    const localReg = a.registerMem(local);
    const t = await opts.storageTarget.create(a, REGION);
    // A storage backend with notifications delivers them to its own agent;
    // the storage is hashed as each one arrives: proof of order.
    const arrivals: { from: string; msg: string; hash: Promise<string> }[] = [];
    a.on('notif', (from, msg) =>
      arrivals.push({ from, msg: Buffer.from(msg).toString(), hash: t.hash(0, NOTIF_WINDOW) }),
    );
    return {
      a,
      target: a.name,
      local,
      localBase: localReg.descs.at(0).addr,
      remoteBase: t.base,
      remoteDevId: t.devId,
      remoteMemType: opts.storageTarget.memType,
      fillTarget: (off, len, seed) => t.fill(off, len, seed),
      hashTarget: (off, len) => t.hash(off, len),
      async waitNotif(msg) {
        const deadline = Date.now() + WAIT_MS;
        for (;;) {
          const i = arrivals.findIndex((x) => x.msg === msg);
          if (i >= 0) {
            const e = arrivals.splice(i, 1)[0]!;
            return { from: e.from, hashAtArrival: await e.hash };
          }
          if (Date.now() > deadline)
            throw new Error(`no notification '${msg}' within ${WAIT_MS} ms`);
          await new Promise((r) => setTimeout(r, 2));
        }
      },
      async close() {
        await a.close();
        await t.close();
      },
    };
  }
  const target = a.alloc(REGION, { backend: opts.allocBackend }).buffer;
  const localReg = a.registerMem(local);
  const targetReg = a.registerMem(target);
  return inProcessTarget(a, a, local, localReg, target, targetReg, async () => {
    await a.close();
  });
}

async function remotePair(type: string, opts: ConformanceOptions): Promise<TransferPair> {
  const a = await newAgent(type, opts, 'init');
  const b = await newAgent(type, opts, 'tgt');
  const local = a.alloc(REGION, { backend: opts.allocBackend }).buffer;
  const target = b.alloc(REGION, { backend: opts.allocBackend }).buffer;
  const localReg = a.registerMem(local);
  const targetReg = b.registerMem(target);
  expect(a.loadRemoteMD(b.getLocalMD())).toBe(b.name);
  expect(b.loadRemoteMD(a.getLocalMD())).toBe(a.name);
  return inProcessTarget(a, b, local, localReg, target, targetReg, async () => {
    await a.close();
    await b.close();
  });
}

function inProcessTarget(
  a: Agent,
  targetAgent: Agent,
  local: Buffer,
  localReg: Registration,
  target: Buffer,
  targetReg: Registration,
  close: () => Promise<void>,
): TransferPair {
  // The target hashes its window as each notification arrives: proof of order.
  const arrivals: { from: string; msg: string; hash: string }[] = [];
  targetAgent.on('notif', (from, msg) =>
    arrivals.push({
      from,
      msg: Buffer.from(msg).toString(),
      hash: sha256(target.subarray(0, NOTIF_WINDOW)),
    }),
  );
  return {
    a,
    target: targetAgent.name,
    local,
    localBase: localReg.descs.at(0).addr,
    remoteBase: targetReg.descs.at(0).addr,
    async fillTarget(off, len, seed) {
      fillPattern(target.subarray(off, off + len), seed);
    },
    async hashTarget(off, len) {
      return sha256(target.subarray(off, off + len));
    },
    async waitNotif(msg) {
      const deadline = Date.now() + WAIT_MS;
      for (;;) {
        const i = arrivals.findIndex((x) => x.msg === msg);
        if (i >= 0) {
          const e = arrivals.splice(i, 1)[0]!;
          return { from: e.from, hashAtArrival: e.hash };
        }
        if (Date.now() > deadline) throw new Error(`no notification '${msg}' within ${WAIT_MS} ms`);
        await new Promise((r) => setTimeout(r, 2));
      }
    },
    close,
  };
}

async function twoProcessPair(
  type: string,
  opts: ConformanceOptions,
): Promise<TransferPair & { peer: PeerProcess }> {
  const a = await newAgent(type, opts, 'init');
  const local = a.alloc(REGION, { backend: opts.allocBackend }).buffer;
  const localReg = a.registerMem(local);
  const peer = new PeerProcess(opts.peerEnv);
  const name = uniqueName('child');
  try {
    const init = await peer.send({
      cmd: 'init',
      name,
      backend: type,
      params: opts.params ?? {},
      plugins: opts.plugins ?? [],
      size: REGION,
      allocBackend: opts.allocBackend,
    });
    expect(a.loadRemoteMD(Buffer.from(init.md!, 'base64'))).toBe(name);
    await peer.send({ cmd: 'load', md: Buffer.from(a.getLocalMD()).toString('base64') });
    return {
      a,
      peer,
      target: name,
      local,
      localBase: localReg.descs.at(0).addr,
      remoteBase: BigInt(init.addr!),
      async fillTarget(off, len, seed) {
        await peer.send({ cmd: 'fill', off, len, seed });
      },
      async hashTarget(off, len) {
        return (await peer.send({ cmd: 'hash', off, len })).hash!;
      },
      async waitNotif(msg) {
        const r = await peer.send({ cmd: 'notif', msg, timeoutMs: WAIT_MS });
        return { from: r.from!, hashAtArrival: r.hashAtArrival! };
      },
      async close() {
        await peer.close();
        await a.close();
      },
    };
  } catch (err) {
    await peer.close();
    await a.close();
    throw err;
  }
}

/** The transfer cases, run against one way of setting up a target. */
function transferCases(
  type: string,
  makePair: () => Promise<TransferPair>,
  caps: BackendCapabilities,
): void {
  let p: TransferPair;
  /** [off, off+len) of the target region, and a list of such in the target's memory type. */
  const rr = (off: number, len: number) => ({
    addr: p.remoteBase + BigInt(off),
    len,
    devId: p.remoteDevId ?? 0,
  });
  const rl = (descs: { addr: bigint; len: number; devId: number }[]) =>
    DescList.from(p.remoteMemType ?? 'DRAM', descs);
  beforeAll(async () => {
    p = await makePair();
  }, 120_000);
  afterAll(async () => {
    await p?.close();
  }, 60_000);

  it('prep, post, status and release', async () => {
    const req = p.a.createXferReq(
      'WRITE',
      [range(p.localBase, 0, 4096)],
      rl([rr(0, 4096)]),
      p.target,
    );
    expect(p.a.getXferStatus(req)).toBe('NOT_POSTED');
    await expect(req.done).rejects.toBeInstanceOf(NotPostedError);
    expect(p.a.queryXferBackend(req)).toBe(type);
    expect(['IN_PROG', 'DONE']).toContain(p.a.postXferReq(req));
    await req.done;
    expect(p.a.getXferStatus(req)).toBe('DONE');
    p.a.releaseXferReq(req);
    p.a.releaseXferReq(req); // idempotent
    expect(() => p.a.getXferStatus(req)).toThrow(InvalidParamError);
    expect(() => p.a.postXferReq(req)).toThrow(InvalidParamError);
  });

  it('postXfer answers SUCCESS or IN_PROG, checkXfer a status code (the typed contract)', async () => {
    const req = p.a.createXferReq(
      'WRITE',
      [range(p.localBase, 0, 4096)],
      rl([rr(0, 4096)]),
      p.target,
    );
    const post = vi.spyOn(req.backend, 'postXfer');
    const check = vi.spyOn(req.backend, 'checkXfer');
    let posted: unknown[];
    let checked: unknown[];
    try {
      for (let i = 0; i < 5; i++) {
        p.a.postXferReq(req);
        // Polled between turns of the event loop, so completion batches come in.
        while (p.a.getXferStatus(req) === 'IN_PROG') await new Promise((r) => setImmediate(r));
      }
    } finally {
      posted = post.mock.results.map((r) => r.value);
      checked = check.mock.results.map((r) => r.value);
      post.mockRestore();
      check.mockRestore();
      req.release();
    }
    expect(posted).toHaveLength(5);
    for (const v of posted) expect([Status.SUCCESS, Status.IN_PROG]).toContain(v);
    for (const v of checked) expect(isStatusCode(v), String(v)).toBe(true);
  });

  it('repost: rejected while active, allowed after DONE', async () => {
    fillPattern(p.local.subarray(0, REGION), 11);
    const req = p.a.createXferReq(
      'WRITE',
      [range(p.localBase, 0, REGION)],
      rl([rr(0, REGION)]),
      p.target,
    );
    // The repost must be refused while the first post is in flight. A pause
    // between the two calls (a GC, a loaded machine) can let the transfer
    // finish first, and the repost is then legal: try again a few times.
    let refused = 0;
    let attempts = 0;
    for (; attempts < 5 && refused === 0; attempts++) {
      if (p.a.postXferReq(req) !== 'IN_PROG' || !req.active) break; // a backend that finishes at once
      try {
        p.a.postXferReq(req);
      } catch (err) {
        expect(err).toBeInstanceOf(RepostActiveError);
        refused++;
      }
      await req.wait({ signal: AbortSignal.timeout(WAIT_MS) });
    }
    if (attempts === 5) expect(refused).toBeGreaterThan(0);
    await req.wait({ signal: AbortSignal.timeout(WAIT_MS) });
    expect(p.a.postXferReq(req)).toMatch(/IN_PROG|DONE/);
    await req.wait({ signal: AbortSignal.timeout(WAIT_MS) });
    expect(p.a.getXferStatus(req)).toBe('DONE');
    req.release();
    expect(await p.hashTarget(0, REGION)).toBe(sha256(p.local.subarray(0, REGION)));
  }, 120_000);

  it('WRITE then READ back, many descriptors of mixed sizes', async () => {
    const sizes = [1, 7, 100, 4096, 4097, 65536 + 3, 1, 300_000, 12, 2 * MiB + 5];
    const local: ReturnType<typeof range>[] = [];
    const remote: ReturnType<typeof range>[] = [];
    let loff = 0;
    let roff = 0;
    for (const s of sizes) {
      local.push(range(p.localBase, loff, s));
      remote.push(rr(roff, s));
      loff += s + 13; // gaps keep the descriptors apart
      roff += s + 4099;
    }
    fillPattern(p.local.subarray(0, loff), 21);
    const expected = local.map((d) =>
      sha256(p.local.subarray(Number(d.addr - p.localBase), Number(d.addr - p.localBase) + d.len)),
    );
    await p.a.write(local, rl(remote), p.target, { signal: AbortSignal.timeout(WAIT_MS) });
    for (let i = 0; i < remote.length; i++) {
      expect(await p.hashTarget(Number(remote[i]!.addr - p.remoteBase), remote[i]!.len)).toBe(
        expected[i],
      );
    }
    // Read back into other local places.
    const back = local.map((d) =>
      range(p.localBase, Number(d.addr - p.localBase) + 8 * MiB, d.len),
    );
    p.local.fill(0, 8 * MiB, 16 * MiB);
    await p.a.read(back, rl(remote), p.target, { signal: AbortSignal.timeout(WAIT_MS) });
    for (let i = 0; i < back.length; i++) {
      const off = Number(back[i]!.addr - p.localBase);
      expect(sha256(p.local.subarray(off, off + back[i]!.len))).toBe(expected[i]);
    }
  }, 120_000);

  it('zero-length descriptors complete and move nothing', async () => {
    const before = await p.hashTarget(0, 4096);
    const req = p.a.createXferReq(
      'WRITE',
      [range(p.localBase, 100, 0)],
      rl([rr(200, 0)]),
      p.target,
    );
    p.a.postXferReq(req);
    await req.wait({ signal: AbortSignal.timeout(WAIT_MS) });
    req.release();
    await p.a.read(
      [range(p.localBase, 0, 0), range(p.localBase, 10, 5)],
      rl([rr(0, 0), rr(10, 5)]),
      p.target,
    );
    expect(await p.hashTarget(0, 4096)).toBe(before);
  });

  it('64 MiB WRITE and READ, verified by hash', async () => {
    fillPattern(p.local.subarray(0, REGION), 31);
    await p.a.write([range(p.localBase, 0, REGION)], rl([rr(0, REGION)]), p.target, {
      signal: AbortSignal.timeout(WAIT_MS * 2),
    });
    expect(await p.hashTarget(0, REGION)).toBe(sha256(p.local.subarray(0, REGION)));
    await p.fillTarget(0, REGION, 32);
    await p.a.read([range(p.localBase, 0, REGION)], rl([rr(0, REGION)]), p.target, {
      signal: AbortSignal.timeout(WAIT_MS * 2),
    });
    const expected = Buffer.alloc(REGION);
    fillPattern(expected, 32);
    expect(sha256(p.local.subarray(0, REGION))).toBe(sha256(expected));
  }, 180_000);

  it.skipIf(!caps.notif)(
    'a notification bound to a WRITE arrives after its data',
    async () => {
      for (let round = 0; round < 3; round++) {
        fillPattern(p.local.subarray(0, NOTIF_WINDOW), 40 + round);
        const msg = `after-data-${round}-${randomBytes(4).toString('hex')}`;
        await p.a.write(
          [range(p.localBase, 0, NOTIF_WINDOW)],
          rl([rr(0, NOTIF_WINDOW)]),
          p.target,
          { notif: msg },
        );
        const got = await p.waitNotif(msg);
        expect(got.from).toBe(p.a.name);
        expect(got.hashAtArrival).toBe(sha256(p.local.subarray(0, NOTIF_WINDOW)));
      }
    },
    120_000,
  );

  it.skipIf(!caps.notif)(
    'a notification given at post time replaces the one given at creation',
    async () => {
      const req = p.a.createXferReq(
        'WRITE',
        [range(p.localBase, 0, 64)],
        rl([rr(0, 64)]),
        p.target,
        { notif: 'created' },
      );
      const msg = `posted-${randomBytes(4).toString('hex')}`;
      p.a.postXferReq(req, { notif: msg });
      await req.done;
      req.release();
      expect((await p.waitNotif(msg)).from).toBe(p.a.name);
    },
  );

  it.skipIf(!caps.notif)('standalone notifications, including an empty one', async () => {
    const msg = `standalone-${randomBytes(4).toString('hex')}`;
    p.a.genNotif(p.target, msg);
    expect((await p.waitNotif(msg)).from).toBe(p.a.name);
    p.a.genNotif(p.target, new Uint8Array(0));
    expect((await p.waitNotif('')).from).toBe(p.a.name);
  });

  it('prepared lists: index lists, merging of contiguous blocks, notification', async () => {
    const block = 4096;
    const localList = DescList.from(
      'DRAM',
      Array.from({ length: 16 }, (_, i) => range(p.localBase, i * block, block)),
    );
    const remoteList = rl(Array.from({ length: 16 }, (_, i) => rr(i * block, block)));
    const lh = p.a.prepXferDlist('', localList);
    const rh = p.a.prepXferDlist(p.target, remoteList);
    fillPattern(p.local.subarray(0, 16 * block), 51);
    const msg = `prepared-${randomBytes(4).toString('hex')}`;
    const req = p.a.makeXferReq('WRITE', lh, [0, 1, 2, 3, 9], rh, [4, 5, 6, 7, 12], {
      notif: caps.notif ? msg : undefined,
    });
    expect(req.descCount).toBe(2); // blocks 0-3 → 4-7 merge into one
    p.a.postXferReq(req);
    await req.wait({ signal: AbortSignal.timeout(WAIT_MS) });
    req.release();
    if (caps.notif) await p.waitNotif(msg);
    expect(await p.hashTarget(4 * block, 4 * block)).toBe(sha256(p.local.subarray(0, 4 * block)));
    expect(await p.hashTarget(12 * block, block)).toBe(
      sha256(p.local.subarray(9 * block, 10 * block)),
    );
    expect(() => p.a.makeXferReq('WRITE', lh, [0, 1], rh, [0], {})).toThrow(InvalidParamError);
    expect(() => p.a.makeXferReq('WRITE', lh, [16], rh, [0], {})).toThrow(InvalidParamError);
    expect(() => p.a.makeXferReq('WRITE', rh, [0], rh, [0], {})).toThrow(InvalidParamError);
  });

  it('descriptors outside registered memory are rejected before any byte moves', async () => {
    await p.fillTarget(0, MiB, 61);
    const before = await p.hashTarget(0, REGION);
    const beyond = rr(REGION - 10, 20);
    expect(() =>
      p.a.createXferReq('WRITE', [range(p.localBase, 0, 20)], rl([beyond]), p.target),
    ).toThrow(NotFoundError);
    expect(() =>
      p.a.createXferReq('WRITE', [range(p.localBase, REGION - 5, 20)], rl([rr(0, 20)]), p.target),
    ).toThrow(NotFoundError);
    // An address in no region at all: nothing can be mapped in the first
    // page (vm.mmap_min_addr is at least 4096). An address a few regions past
    // the target's could land in another region the kernel placed there.
    expect(() =>
      p.a.createXferReq(
        'WRITE',
        [range(p.localBase, 0, 20)],
        rl([{ addr: 0x100n, len: 20, devId: p.remoteDevId ?? 0 }]),
        p.target,
      ),
    ).toThrow(NotFoundError);
    expect(() =>
      p.a.createXferReq('WRITE', [range(p.localBase, 0, 20)], rl([rr(0, 21)]), p.target),
    ).toThrow(InvalidParamError);
    expect(() =>
      p.a.createXferReq('WRITE', [range(p.localBase, 0, 20)], rl([rr(0, 20)]), 'no-such-agent'),
    ).toThrow(NotFoundError);
    expect(() => p.a.prepXferDlist(p.target, rl([beyond]))).toThrow(NotFoundError);
    expect(await p.hashTarget(0, REGION)).toBe(before);
  }, 60_000);
}

async function probeCapabilities(
  type: string,
  opts: ConformanceOptions,
): Promise<BackendCapabilities> {
  const agent = await newAgent(type, opts, 'probe');
  try {
    return agent.backends[0]!.capabilities;
  } finally {
    await agent.close();
  }
}

/** Defines the conformance suite for one backend type. */
export async function backendConformance(
  type: string,
  opts: ConformanceOptions = {},
): Promise<void> {
  const caps = await probeCapabilities(type, opts);
  const bound = opts.disconnectBoundMs ?? 20_000;

  describe(opts.title ?? `${type} conformance`, () => {
    describe('registration', () => {
      it('registers, refuses duplicates and overlaps, deregisters exactly', async () => {
        const a = await newAgent(type, opts, 'reg');
        try {
          const buf = a.alloc(1 << 16).buffer;
          const reg = a.registerMem(buf);
          expect(reg.descs.length).toBe(1);
          expect(() => a.registerMem(buf)).toThrow(InvalidParamError);
          expect(() => a.registerMem(buf.subarray(100, 200))).toThrow(NotAllowedError);
          const d = reg.descs.at(0);
          expect(() => a.deregisterMem([{ addr: d.addr, len: d.len - 1 }])).toThrow(NotFoundError);
          a.deregisterMem(reg);
          expect(() => a.deregisterMem(reg.descs)).toThrow(NotFoundError);
          reg.close(); // idempotent after deregistration
          const again = a.registerMem(buf.subarray(100, 200)); // the range is free again
          again.close();
          const many = a.registerMem([
            a.alloc(4096).buffer,
            a.alloc(8192).buffer,
            new Uint8Array(100),
            new SharedArrayBuffer(64),
          ]);
          expect(many.descs.length).toBe(4);
          many.close();
        } finally {
          await a.close();
        }
      });

      it('a closed agent rejects everything', async () => {
        const a = await newAgent(type, opts, 'closed');
        const buf = a.alloc(4096).buffer;
        const reg = a.registerMem(buf);
        await a.close();
        await a.close(); // idempotent
        expect(() => a.registerMem(a.alloc(16).buffer)).toThrow(NotAllowedError);
        expect(() => a.registerMem(new Uint8Array(16))).toThrow(NotAllowedError);
        expect(() => a.deregisterMem(reg.descs)).toThrow(NotAllowedError);
        expect(() => a.prepXferDlist('', reg.descs)).toThrow(NotAllowedError);
        expect(() => a.createXferReq('WRITE', reg.descs, reg.descs, a.name)).toThrow(
          NotAllowedError,
        );
        expect(() => a.genNotif(a.name, 'x')).toThrow(NotAllowedError);
        expect(() => a.getNotifs()).toThrow(NotAllowedError);
        expect(() => a.getLocalMD()).toThrow(NotAllowedError);
        expect(() => a.loadRemoteMD(new Uint8Array(10))).toThrow(NotAllowedError);
        expect(() => a.invalidateRemoteMD('x')).toThrow(NotAllowedError);
        await expect(a.createBackend(type)).rejects.toBeInstanceOf(NotAllowedError);
        await expect(a.makeConnection('x')).rejects.toBeInstanceOf(NotAllowedError);
        reg.close(); // no-op once the agent is closed
      });
    });

    describe.skipIf(!caps.local)('loopback (local capability)', () => {
      transferCases(type, () => loopbackPair(type, opts), caps);
    });

    describe.skipIf(!caps.remote)('remote, one process', () => {
      transferCases(type, () => remotePair(type, opts), caps);
    });

    describe.skipIf(!caps.remote || opts.twoProcess === false)('remote, two processes', () => {
      transferCases(type, () => twoProcessPair(type, opts), caps);

      it(`a peer killed mid-transfer fails it with RemoteDisconnectError within ${bound} ms`, async () => {
        const p = await twoProcessPair(type, opts);
        try {
          const req = p.a.createXferReq(
            'WRITE',
            [range(p.localBase, 0, REGION)],
            [range(p.remoteBase, 0, REGION)],
            p.target,
          );
          let disconnectEvent: unknown;
          p.a.on('peer:disconnect', (_name, err) => (disconnectEvent ??= err));
          p.a.postXferReq(req);
          const started = Date.now();
          await p.peer.kill('SIGKILL');
          let failure: unknown;
          // Repost until the dead peer is noticed, within the bound as a whole.
          const deadline = started + bound;
          while (!failure && Date.now() < deadline) {
            try {
              await req.wait({ signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) });
              p.a.postXferReq(req);
            } catch (err) {
              failure = err;
            }
          }
          // Either a transfer failed with it, or the peer was dropped with it first.
          expect(
            failure instanceof RemoteDisconnectError ? failure : disconnectEvent,
          ).toBeInstanceOf(RemoteDisconnectError);
          expect(Date.now() - started).toBeLessThan(bound);
          expect(p.a.checkRemoteMD(p.target)).toBe(false);
        } finally {
          await p.close();
        }
      }, 120_000);
    });

    peerFailureGroups(type, opts, caps);
  });
}

/**
 * The "peer killed mid-transfer" and "close() with transfers in flight"
 * groups (peer-kill.ts), for a remote backend across processes.
 */
function peerFailureGroups(
  type: string,
  opts: ConformanceOptions,
  caps: BackendCapabilities,
): void {
  const ctx = {
    type,
    params: opts.params ?? {},
    plugins: opts.plugins ?? [],
    peerEnv: opts.peerEnv,
    allocBackend: opts.allocBackend,
    newAgent: (prefix: string) => newAgent(type, opts, prefix),
    uniqueName,
  };
  const killOpts = opts.peerKill === false ? {} : opts.peerKill;
  const enabled = caps.remote && opts.twoProcess !== false && opts.peerKill !== false;
  describe.skipIf(!enabled)('peer killed mid-transfer (a fresh target process per run)', () => {
    peerKillCases(ctx, killOpts);
  });
  describe.skipIf(!enabled)('close() with transfers in flight to another process', () => {
    closeInFlightCases(ctx, killOpts);
  });
}

/**
 * Only the peer-failure groups of the suite (which `backendConformance`
 * includes unless `peerKill` is false): for a configuration whose file would
 * otherwise run too long, or to run them on their own.
 */
export async function peerFailureConformance(
  type: string,
  opts: ConformanceOptions = {},
): Promise<void> {
  const caps = await probeCapabilities(type, opts);
  describe(opts.title ?? `${type} peer failure`, () => {
    peerFailureGroups(type, opts, caps);
  });
}
