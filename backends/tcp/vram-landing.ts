/**
 * The target's side of staged writes into its VRAM from another host: it
 * exposes VRAM regions (expose → a token the initiator uses), and for each
 * chunk an initiator announces (a `push`, backends/tcp/vram-control.ts) it
 * reads the chunk from the initiator's staging into one of its own pinned
 * landing buffers over TCP, copies it into device memory, and acknowledges.
 * The application's notification (`done`) is delivered after every chunk of
 * that transfer is in device memory.
 *
 * The target stays the authority: only exposed regions, only inside them;
 * a malformed or out-of-range push gets an error ack and moves nothing; at
 * most `maxQueued` pushes wait for a landing buffer, more are refused.
 * Unlike the TCP engine's own transfers, this runs on the target's event
 * loop (one read and one device copy per chunk): the price of staging
 * without CUDA inside the engine.
 *
 * While it listens, the agent's notifications come through `onNotif`
 * (control messages filtered out), as listening diverts them from getNotifs.
 */
import type { Agent } from '../../src/agent.js';
import type { Registration } from '../../src/registration.js';
import { InvalidParamError } from '../../src/errors.js';
import { native } from '../../src/native.js';
import { cudaCall } from '../../src/vram.js';
import { cudaCopyEngine, hostCopyEngine, type CopyEngine } from './copy-engine.js';
import { decodeControl, encodeControl, isControl, type ControlMsg } from './vram-control.js';
import type { VramRegion } from './vram-stager.js';

export interface VramLandingOptions {
  readonly chunkBytes?: number;
  readonly slots?: number;
  readonly copyEngine?: 'cuda' | 'host' | CopyEngine;
  readonly maxQueued?: number;
}

type NotifListener = (from: string, msg: Uint8Array) => void;

export class VramLanding {
  readonly chunkBytes: number;
  readonly engine: CopyEngine;
  readonly #agent: Agent;
  readonly #ring: Buffer;
  readonly #ringAddr: bigint;
  readonly #reg: Registration;
  readonly #free: number[];
  readonly #waiting: (() => void)[] = [];
  readonly #maxQueued: number;
  readonly #regions = new Map<number, Required<VramRegion>>();
  readonly #listeners: NotifListener[] = [];
  /** Chunks of each transfer still moving (key: from + x). */
  readonly #pending = new Map<string, Set<Promise<void>>>();
  readonly #onAgentNotif: (from: string, msg: Uint8Array) => void;
  #nextRegion = 1;
  #closed = false;

  constructor(agent: Agent, opts: VramLandingOptions = {}) {
    const ctx = { op: 'VramLanding', agent: agent.name };
    this.chunkBytes = opts.chunkBytes ?? 4 << 20;
    const slots = opts.slots ?? 4;
    if (!Number.isSafeInteger(this.chunkBytes) || this.chunkBytes < 4096)
      throw new InvalidParamError(`chunkBytes must be an integer ≥ 4096`, ctx);
    if (!Number.isSafeInteger(slots) || slots < 1 || slots > 64)
      throw new InvalidParamError(`slots must be 1..64`, ctx);
    const e = opts.copyEngine ?? 'cuda';
    this.engine = e === 'cuda' ? cudaCopyEngine() : e === 'host' ? hostCopyEngine() : e;
    this.#maxQueued = opts.maxQueued ?? 256;
    this.#agent = agent;
    this.#ring = this.engine.allocHost(this.chunkBytes * slots);
    this.#ringAddr = native().addressOf(this.#ring);
    this.#reg = agent.registerMem(this.#ring, { backends: ['TCP'] });
    this.#free = [...Array(slots).keys()];
    this.#onAgentNotif = (from, msg) => this.#onNotif(from, msg);
    agent.on('notif', this.#onAgentNotif);
  }

  /** Lets initiators write into `region` (checked with the driver); the token names it to them. */
  expose(region: VramRegion): Uint8Array {
    const ctx = { op: 'VramLanding.expose', agent: this.#agent.name };
    const devId = region.devId ?? 0;
    if (typeof region.addr !== 'bigint' || region.addr <= 0n || !(region.len > 0))
      throw new InvalidParamError('expected a VRAM region {addr, len, devId}', ctx);
    if (this.engine.kind === 'cuda')
      cudaCall(ctx, (c) => c.pointerInfo(region.addr, region.len, devId));
    const id = this.#nextRegion++;
    this.#regions.set(id, { addr: region.addr, len: region.len, devId });
    return Buffer.from(JSON.stringify({ landing: id, len: region.len, chunk: this.chunkBytes }));
  }

  /** Stops accepting writes into a region exposed earlier. */
  unexpose(token: Uint8Array): void {
    const t = JSON.parse(Buffer.from(token).toString()) as { landing: number };
    this.#regions.delete(t.landing);
  }

  /** The application's notifications (and the `done` ones, after their data). */
  onNotif(listener: NotifListener): void {
    this.#listeners.push(listener);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#agent.off('notif', this.#onAgentNotif);
    this.#regions.clear();
    if (!this.#agent.closed) this.#reg.close();
  }

  #deliver(from: string, msg: Uint8Array): void {
    for (const l of this.#listeners) l(from, msg);
  }

  #onNotif(from: string, msg: Uint8Array): void {
    if (!isControl(msg)) return this.#deliver(from, msg);
    const m = decodeControl(msg);
    if (!m || m.t === 'ack') return; // malformed, or not for a target: dropped
    const key = `${from}\u0000${m.x}`;
    if (m.t === 'done') {
      const chunks = [...(this.#pending.get(key) ?? [])];
      this.#pending.delete(key);
      void Promise.allSettled(chunks).then(() => {
        if (m.notif !== undefined) this.#deliver(from, Buffer.from(m.notif, 'base64'));
      });
      return;
    }
    let set = this.#pending.get(key);
    if (!set) this.#pending.set(key, (set = new Set()));
    const p = this.#land(from, m).then(
      () => this.#ack(from, m, undefined),
      (e: unknown) => this.#ack(from, m, String((e as Error)?.message ?? e)),
    );
    set.add(p);
    void p.finally(() => set.delete(p));
  }

  #ack(to: string, m: ControlMsg & { t: 'push' }, err: string | undefined): void {
    if (this.#closed || this.#agent.closed) return;
    try {
      this.#agent.genNotif(
        to,
        encodeControl({ t: 'ack', x: m.x, k: m.k, ...(err ? { err } : {}) }),
      );
    } catch {
      // The initiator is gone: its transfer fails on its side.
    }
  }

  async #land(from: string, m: ControlMsg & { t: 'push' }): Promise<void> {
    const r = this.#regions.get(m.region);
    if (!r) throw new Error(`no exposed VRAM region ${m.region}`);
    if (m.len > this.chunkBytes) throw new Error(`chunk of ${m.len} bytes over ${this.chunkBytes}`);
    if (m.off + m.len > r.len) throw new Error(`offset ${m.off} + ${m.len} outside ${r.len} bytes`);
    const slot = await this.#takeSlot();
    try {
      const at = this.#ringAddr + BigInt(slot * this.chunkBytes);
      await this.#agent.read(
        [{ addr: at, len: m.len }],
        [{ addr: BigInt(m.src), len: m.len }],
        from,
        {
          signal: AbortSignal.timeout(60_000),
        },
      );
      await this.engine.toDevice(r.addr + BigInt(m.off), at, m.len, r.devId);
    } finally {
      this.#giveSlot(slot);
    }
  }

  #takeSlot(): Promise<number> {
    const s = this.#free.pop();
    if (s !== undefined) return Promise.resolve(s);
    if (this.#waiting.length >= this.#maxQueued)
      return Promise.reject(new Error(`over ${this.#maxQueued} chunks queued`));
    return new Promise((resolve) => this.#waiting.push(() => resolve(this.#free.pop()!)));
  }

  #giveSlot(s: number): void {
    this.#free.push(s);
    this.#waiting.shift()?.();
  }
}
