/**
 * VRAM over TCP: the TCP engine moves host memory only, so device memory
 * goes through a ring of pinned host staging buffers that this stager
 * registers with the agent, chunk by chunk (backends/tcp/staging-pipeline.ts):
 *
 * - write(local VRAM → a peer's DRAM): copy chunk k device→staging on a CUDA
 *   stream while chunk k-1 goes over the socket; the notification rides the
 *   last chunk, sent only after every other chunk completed, so the target
 *   sees it after all the data.
 * - read(a peer's DRAM → local VRAM): chunk k comes over the socket into
 *   staging while chunk k-1 copies staging→device; the transfer settles, and
 *   a READ's notification reaches the peer, only after the last chunk is in
 *   device memory.
 * - Between processes of one host, where the driver allows, no staging: the
 *   owner of a VRAM region exports a CUDA IPC handle for it (exportIpc, its
 *   decision, region by region), the peer maps it (importIpc) and copies
 *   device to device (writeIpc / readIpc), then notifies.
 *
 * - writeToPeerVram(local VRAM → a peer's VRAM, any host): each chunk is
 *   staged here, announced to the peer's VramLanding, which reads it into its
 *   own pinned buffer and copies it into its device, then acknowledges; the
 *   application's notification follows the last acknowledgement. While a
 *   stager has done this once, the agent's notifications come through
 *   `onNotif` (it listens for acknowledgements).
 *
 * One transfer at a time per stager (they share the ring); more queue.
 */
import { randomUUID } from 'node:crypto';

import type { Agent } from '../../src/agent.js';
import type { Registration } from '../../src/registration.js';
import {
  InvalidParamError,
  NotSupportedError,
  RemoteDisconnectError,
  type ErrorContext,
} from '../../src/errors.js';
import { native } from '../../src/native.js';
import { cuda, cudaCall } from '../../src/vram.js';
import { cudaCopyEngine, hostCopyEngine, type CopyEngine } from './copy-engine.js';
import { runPipeline, type PipelineStats } from './staging-pipeline.js';
import { decodeControl, encodeControl, isControl } from './vram-control.js';

export interface VramRegion {
  readonly addr: bigint;
  readonly len: number;
  readonly devId?: number;
}

export interface VramStagerOptions {
  /** Bytes per chunk (default 4 MiB). */
  readonly chunkBytes?: number;
  /** Staging buffers in the ring (default 4): chunks in flight at once. */
  readonly slots?: number;
  /** 'cuda' (default) or 'host' (host memory stands in for VRAM: tests). */
  readonly copyEngine?: 'cuda' | 'host' | CopyEngine;
  /** The backends that register the staging ring (default: TCP). */
  readonly backends?: string[];
}

export interface StagedXferOptions {
  readonly notif?: Uint8Array | string;
  readonly signal?: AbortSignal;
}

/** A peer's VRAM region mapped into this process through a CUDA IPC handle. */
export interface IpcMapping {
  /** The region's first byte, as this process addresses it. */
  readonly addr: bigint;
  readonly len: number;
  readonly devId: number;
  close(): void;
}

const MiB = 1 << 20;
const TOKEN_MAGIC = 'nixl-vram-ipc/1';
const MAX_TOKEN_BYTES = 1024;

export class VramStager {
  readonly chunkBytes: number;
  readonly slots: number;
  readonly engine: CopyEngine;
  readonly #agent: Agent;
  readonly #staging: Buffer;
  readonly #stagingAddr: bigint;
  readonly #reg: Registration;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** Acknowledgements awaited: "<agent>\0<x>\0<k>" → settle. */
  readonly #acks = new Map<string, (err?: string) => void>();
  readonly #notifListeners: ((from: string, msg: Uint8Array) => void)[] = [];
  #listening = false;
  readonly #onAgentNotif = (from: string, msg: Uint8Array): void => {
    if (!isControl(msg)) {
      for (const l of this.#notifListeners) l(from, msg);
      return;
    }
    const m = decodeControl(msg);
    if (m?.t !== 'ack') return;
    const key = `${from}\u0000${m.x}\u0000${m.k}`;
    const settle = this.#acks.get(key);
    this.#acks.delete(key);
    settle?.(m.err);
  };

  private constructor(agent: Agent, opts: VramStagerOptions) {
    const ctx = { op: 'VramStager', agent: agent.name };
    this.chunkBytes = opts.chunkBytes ?? 4 * MiB;
    this.slots = opts.slots ?? 4;
    if (!Number.isSafeInteger(this.chunkBytes) || this.chunkBytes < 4096)
      throw new InvalidParamError(
        `chunkBytes must be an integer ≥ 4096, not ${this.chunkBytes}`,
        ctx,
      );
    if (!Number.isSafeInteger(this.slots) || this.slots < 1 || this.slots > 64)
      throw new InvalidParamError(`slots must be 1..64, not ${this.slots}`, ctx);
    const e = opts.copyEngine ?? 'cuda';
    if (e === 'cuda') cuda(ctx); // NotSupportedError with the reason, before anything is allocated
    this.engine = e === 'cuda' ? cudaCopyEngine() : e === 'host' ? hostCopyEngine() : e;
    this.#agent = agent;
    this.#staging = this.engine.allocHost(this.chunkBytes * this.slots);
    this.#stagingAddr = native().addressOf(this.#staging);
    this.#reg = agent.registerMem(this.#staging, { backends: opts.backends ?? ['TCP'] });
  }

  static create(agent: Agent, opts: VramStagerOptions = {}): VramStager {
    return new VramStager(agent, opts);
  }

  /** Local VRAM → a peer's registered DRAM at remoteAddr. */
  write(
    local: VramRegion,
    remoteAddr: bigint,
    remoteAgent: string,
    opts: StagedXferOptions = {},
  ): Promise<PipelineStats> {
    const ctx = { op: 'VramStager.write', agent: this.#agent.name };
    const devId = this.#checkLocal(local, ctx);
    return this.#serial(() =>
      runPipeline(
        {
          bytes: local.len,
          chunkBytes: this.chunkBytes,
          slots: this.slots,
          holdLast: true,
          signal: opts.signal,
        },
        {
          first: (c) =>
            this.engine.toHost(this.#slot(c.slot), local.addr + BigInt(c.offset), c.len, devId),
          second: (c) =>
            this.#agent.write(
              [{ addr: this.#slot(c.slot), len: c.len }],
              [{ addr: remoteAddr + BigInt(c.offset), len: c.len }],
              remoteAgent,
              { notif: c.last ? opts.notif : undefined, signal: opts.signal },
            ),
        },
      ),
    );
  }

  /** A peer's registered DRAM at remoteAddr → local VRAM. */
  read(
    local: VramRegion,
    remoteAddr: bigint,
    remoteAgent: string,
    opts: StagedXferOptions = {},
  ): Promise<PipelineStats> {
    const ctx = { op: 'VramStager.read', agent: this.#agent.name };
    const devId = this.#checkLocal(local, ctx);
    return this.#serial(async () => {
      const stats = await runPipeline(
        { bytes: local.len, chunkBytes: this.chunkBytes, slots: this.slots, signal: opts.signal },
        {
          first: (c) =>
            this.#agent.read(
              [{ addr: this.#slot(c.slot), len: c.len }],
              [{ addr: remoteAddr + BigInt(c.offset), len: c.len }],
              remoteAgent,
              { signal: opts.signal },
            ),
          second: (c) =>
            this.engine.toDevice(local.addr + BigInt(c.offset), this.#slot(c.slot), c.len, devId),
        },
      );
      // The peer hears of it once the data is in device memory here.
      if (opts.notif !== undefined) this.#agent.genNotif(remoteAgent, opts.notif);
      return stats;
    });
  }

  /**
   * Local VRAM → a peer's VRAM region that its VramLanding exposed (token),
   * at dstOffset, through staging on both sides. Settles once every chunk is
   * in the peer's device memory; the notification reaches the peer after that.
   */
  writeToPeerVram(
    local: VramRegion,
    token: Uint8Array,
    remoteAgent: string,
    opts: StagedXferOptions & { dstOffset?: number; ackTimeoutMs?: number } = {},
  ): Promise<PipelineStats> {
    const ctx = { op: 'VramStager.writeToPeerVram', agent: this.#agent.name };
    const devId = this.#checkLocal(local, ctx);
    const t = parseLandingToken(token, ctx);
    const off = opts.dstOffset ?? 0;
    if (!Number.isSafeInteger(off) || off < 0 || off + local.len > t.len)
      throw new InvalidParamError(
        `offset ${off} + ${local.len} bytes is outside the peer's region of ${t.len} bytes`,
        ctx,
      );
    this.#listen();
    const x = randomUUID();
    const ackMs = opts.ackTimeoutMs ?? 30_000;
    return this.#serial(async () => {
      const stats = await runPipeline(
        {
          bytes: local.len,
          chunkBytes: Math.min(this.chunkBytes, t.chunk),
          slots: this.slots,
          signal: opts.signal,
        },
        {
          first: (c) =>
            this.engine.toHost(this.#slot(c.slot), local.addr + BigInt(c.offset), c.len, devId),
          second: (c) => {
            const key = `${remoteAgent}\u0000${x}\u0000${c.index}`;
            const acked = new Promise<void>((resolve, reject) => {
              const timer = setTimeout(() => {
                this.#acks.delete(key);
                reject(
                  new RemoteDisconnectError(
                    `no acknowledgement of chunk ${c.index} in ${ackMs} ms`,
                    ctx,
                  ),
                );
              }, ackMs);
              this.#acks.set(key, (err) => {
                clearTimeout(timer);
                if (err)
                  reject(new InvalidParamError(`the peer refused chunk ${c.index}: ${err}`, ctx));
                else resolve();
              });
            });
            try {
              this.#agent.genNotif(
                remoteAgent,
                encodeControl({
                  t: 'push',
                  x,
                  k: c.index,
                  src: this.#slot(c.slot).toString(),
                  off: off + c.offset,
                  len: c.len,
                  region: t.landing,
                }),
              );
            } catch (e) {
              this.#acks.get(key)?.('unsent');
              throw e;
            }
            return acked;
          },
        },
      );
      const notif =
        opts.notif === undefined ? undefined : Buffer.from(opts.notif).toString('base64');
      this.#agent.genNotif(
        remoteAgent,
        encodeControl({ t: 'done', x, n: stats.chunks, ...(notif ? { notif } : {}) }),
      );
      return stats;
    });
  }

  /** The agent's notifications, once this stager listens for acknowledgements. */
  onNotif(listener: (from: string, msg: Uint8Array) => void): void {
    this.#notifListeners.push(listener);
  }

  #listen(): void {
    if (this.#listening) return;
    this.#listening = true;
    this.#agent.on('notif', this.#onAgentNotif);
  }

  /**
   * A token that lets another process of this host map `local` (CUDA IPC).
   * Exporting is the owner's decision, region by region.
   */
  exportIpc(local: VramRegion): Uint8Array {
    const ctx = { op: 'VramStager.exportIpc', agent: this.#agent.name };
    this.#needCuda(ctx);
    const devId = this.#checkLocal(local, ctx);
    const info = cudaCall(ctx, (c) => c.pointerInfo(local.addr, local.len, devId));
    const handle = cudaCall(ctx, (c) => c.ipcGetHandle(local.addr, devId));
    return Buffer.from(
      JSON.stringify({
        magic: TOKEN_MAGIC,
        devId,
        offset: (local.addr - info.base).toString(),
        len: local.len,
        handle: handle.toString('base64'),
      }),
    );
  }

  /** Maps a peer's region from its exportIpc token; close() unmaps it. */
  importIpc(token: Uint8Array, devId?: number): IpcMapping {
    const ctx = { op: 'VramStager.importIpc', agent: this.#agent.name };
    this.#needCuda(ctx);
    const t = parseToken(token, ctx);
    const dev = devId ?? t.devId;
    const base = cudaCall(ctx, (c) => c.ipcOpen(t.handle, dev));
    let open = true;
    return {
      addr: base + t.offset,
      len: t.len,
      devId: dev,
      close: () => {
        if (!open) return;
        open = false;
        cudaCall({ op: 'IpcMapping.close' }, (c) => c.ipcClose(base, dev));
      },
    };
  }

  /** Local VRAM → a peer's mapped VRAM at offset, device to device; then the notification. */
  async writeIpc(
    local: VramRegion,
    peer: IpcMapping,
    offset: number,
    remoteAgent: string,
    opts: { notif?: Uint8Array | string } = {},
  ): Promise<void> {
    const ctx = { op: 'VramStager.writeIpc', agent: this.#agent.name };
    const devId = this.#checkLocal(local, ctx);
    checkRange(peer, offset, local.len, ctx);
    await this.engine.deviceToDevice(peer.addr + BigInt(offset), local.addr, local.len, devId);
    if (opts.notif !== undefined) this.#agent.genNotif(remoteAgent, opts.notif);
  }

  /** A peer's mapped VRAM at offset → local VRAM, device to device; then the notification. */
  async readIpc(
    local: VramRegion,
    peer: IpcMapping,
    offset: number,
    remoteAgent: string,
    opts: { notif?: Uint8Array | string } = {},
  ): Promise<void> {
    const ctx = { op: 'VramStager.readIpc', agent: this.#agent.name };
    const devId = this.#checkLocal(local, ctx);
    checkRange(peer, offset, local.len, ctx);
    await this.engine.deviceToDevice(local.addr, peer.addr + BigInt(offset), local.len, devId);
    if (opts.notif !== undefined) this.#agent.genNotif(remoteAgent, opts.notif);
  }

  /** Deregisters the staging ring once queued transfers are done (idempotent). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue.catch(() => {});
    if (this.#listening) this.#agent.off('notif', this.#onAgentNotif);
    if (!this.#agent.closed) this.#reg.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #slot(i: number): bigint {
    return this.#stagingAddr + BigInt(i * this.chunkBytes);
  }

  #serial<T>(f: () => Promise<T>): Promise<T> {
    if (this.#closed)
      return Promise.reject(
        new InvalidParamError('the VRAM stager is closed', { op: 'VramStager' }),
      );
    const p = this.#queue.then(f, f);
    this.#queue = p.catch(() => {});
    return p;
  }

  #needCuda(ctx: ErrorContext): void {
    if (this.engine.kind !== 'cuda')
      throw new NotSupportedError('CUDA IPC needs the CUDA copy engine', ctx);
    cuda(ctx);
  }

  /** The region's devId, after the driver confirmed it is device memory (CUDA engine). */
  #checkLocal(local: VramRegion, ctx: ErrorContext): number {
    if (!local || typeof local !== 'object')
      throw new InvalidParamError('expected a VRAM region {addr, len, devId}', ctx);
    const devId = local.devId ?? 0;
    if (typeof local.addr !== 'bigint' || local.addr <= 0n)
      throw new InvalidParamError(`bad VRAM address ${String(local.addr)}`, ctx);
    if (!Number.isSafeInteger(local.len) || local.len <= 0)
      throw new InvalidParamError(`bad VRAM length ${local.len}`, ctx);
    if (this.engine.kind === 'cuda')
      cudaCall(ctx, (c) => c.pointerInfo(local.addr, local.len, devId));
    return devId;
  }
}

function checkRange(peer: IpcMapping, offset: number, len: number, ctx: ErrorContext): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + len > peer.len)
    throw new InvalidParamError(
      `offset ${offset} + ${len} bytes is outside the peer's region of ${peer.len} bytes`,
      ctx,
    );
}

function parseToken(
  token: Uint8Array,
  ctx: ErrorContext,
): { devId: number; offset: bigint; len: number; handle: Buffer } {
  const bad = (why: string) => new InvalidParamError(`bad VRAM IPC token: ${why}`, ctx);
  if (!(token instanceof Uint8Array) || token.byteLength > MAX_TOKEN_BYTES)
    throw bad(`expected at most ${MAX_TOKEN_BYTES} bytes`);
  let t: Record<string, unknown>;
  try {
    t = JSON.parse(Buffer.from(token).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw bad('not JSON');
  }
  if (t['magic'] !== TOKEN_MAGIC) throw bad(`not a ${TOKEN_MAGIC} token`);
  const devId = t['devId'];
  const len = t['len'];
  if (!Number.isInteger(devId) || (devId as number) < 0) throw bad('devId');
  if (!Number.isSafeInteger(len) || (len as number) <= 0) throw bad('len');
  if (typeof t['offset'] !== 'string' || !/^\d{1,20}$/.test(t['offset'])) throw bad('offset');
  const handle = Buffer.from(String(t['handle']), 'base64');
  if (handle.length !== 64) throw bad('the handle is not 64 bytes');
  return { devId: devId as number, offset: BigInt(t['offset']), len: len as number, handle };
}

function parseLandingToken(
  token: Uint8Array,
  ctx: ErrorContext,
): { landing: number; len: number; chunk: number } {
  let t: Record<string, unknown> | undefined;
  try {
    if (token.byteLength <= MAX_TOKEN_BYTES)
      t = JSON.parse(Buffer.from(token).toString('utf8')) as Record<string, unknown>;
  } catch {
    t = undefined;
  }
  const ok = (v: unknown) => Number.isSafeInteger(v) && (v as number) > 0;
  if (!t || !ok(t['landing']) || !ok(t['len']) || !ok(t['chunk']))
    throw new InvalidParamError('bad VRAM landing token (from VramLanding.expose)', ctx);
  return { landing: t['landing'] as number, len: t['len'] as number, chunk: t['chunk'] as number };
}
