import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';

import type { Agent } from '../agent.js';
import { InvalidParamError, NotAllowedError, NotFoundError } from '../errors.js';
import type { PreppedDlist } from '../prepped-dlist.js';
import type { Registration } from '../registration.js';
import type { XferOp } from '../backend.js';
import { checkBlockHash, type BlockHash } from './block-hash.js';
import {
  TierState,
  checkTierName,
  tierSlots,
  type BlockEntry,
  type KvMoveCounters,
  type KvTierSpec,
  type KvTierStats,
} from './kv-tier.js';

/** Blocks that now live in a tier (Dynamo's KV event "stored": hashes with their parents). */
export interface KvStoredEvent {
  tier: string;
  blocks: { hash: BlockHash; parent: BlockHash | null }[];
}

/** Blocks that no longer live in a tier (Dynamo's "removed"). */
export interface KvRemovedEvent {
  tier: string;
  hashes: BlockHash[];
}

export interface KvBlockManagerEvents {
  stored: [KvStoredEvent];
  removed: [KvRemovedEvent];
}

export interface KvBlockManagerOptions {
  /** Bytes of one block (all its layers and planes, laid out by the engine). */
  blockBytes: number;
  /** Top first: the top tier is this agent's DRAM ({ name, capacity }), then lower tiers in order. */
  tiers: readonly KvTierSpec[];
  /** Local DRAM blocks a move between two lower tiers passes through (default 16). */
  stagingBlocks?: number;
}

export interface OnboardResult {
  /** Leading blocks of the asked list now in the top tier (the longest cached prefix). */
  blocks: number;
  /** Where those blocks were found, by tier name. */
  found: Record<string, number>;
  /** Their top-tier slots, in order. */
  slots: number[];
}

export interface KvManagerStats {
  tiers: KvTierStats[];
  /** Blocks asked of onboard that no tier held (the first miss ends a prefix). */
  misses: number;
  /** Blocks stored by put. */
  puts: number;
}

/**
 * A KV block manager over memory tiers: blocks named by prefix-chained
 * hashes live in exactly one tier; the top tier is this agent's DRAM, where
 * an engine writes new blocks (`put`) and reads cached ones (`view`). When a
 * tier is full its least recently used block moves to the next tier (the
 * last tier drops it); `onboard` brings a cached prefix back to the top.
 * Every move is one of the agent's transfer requests, so a tier is whatever
 * memory the agent reaches: a file, an object store, a peer's DRAM.
 *
 * A move changes the index only once its transfer reported DONE; a move
 * that fails leaves its blocks where they were (the slots taken for them go
 * back). Blocks in motion are marked, so concurrent onboards of one block
 * wait for the move in progress instead of starting another.
 */
export class KvBlockManager extends EventEmitter<KvBlockManagerEvents> {
  readonly agent: Agent;
  readonly blockBytes: number;
  readonly #tiers: TierState[];
  readonly #index = new Map<BlockHash, BlockEntry>();
  readonly #putting = new Map<BlockHash, Promise<boolean>>();
  readonly #top: Buffer;
  readonly #regs: Registration[];
  readonly #staging: PreppedDlist;
  readonly #stagingBlocks: number;
  #stagingLock: Promise<void> = Promise.resolve();
  #misses = 0;
  #puts = 0;
  #closed = false;

  private constructor(
    agent: Agent,
    blockBytes: number,
    tiers: TierState[],
    top: Buffer,
    regs: Registration[],
    staging: PreppedDlist,
    stagingBlocks: number,
  ) {
    super();
    this.agent = agent;
    this.blockBytes = blockBytes;
    this.#tiers = tiers;
    this.#top = top;
    this.#regs = regs;
    this.#staging = staging;
    this.#stagingBlocks = stagingBlocks;
  }

  /**
   * Allocates and registers the top tier and the staging blocks, and
   * prepares every tier's slot list once. Lower tiers' regions must already
   * be registered (this agent's own) or loaded (a peer's metadata).
   */
  static create(agent: Agent, opts: KvBlockManagerOptions): KvBlockManager {
    const { blockBytes, tiers } = opts;
    if (!Number.isSafeInteger(blockBytes) || blockBytes <= 0 || blockBytes > 2 ** 31)
      throw new InvalidParamError(`KvBlockManager: bad blockBytes ${String(blockBytes)}`);
    if (!Array.isArray(tiers) || tiers.length === 0)
      throw new InvalidParamError('KvBlockManager: at least one tier (the top one) is needed');
    const stagingBlocks = opts.stagingBlocks ?? 16;
    if (!Number.isSafeInteger(stagingBlocks) || stagingBlocks <= 0)
      throw new InvalidParamError(`KvBlockManager: bad stagingBlocks ${String(stagingBlocks)}`);
    const names = new Set<string>();
    for (const t of tiers) checkTierName(t, names);
    const head = tiers[0]!;
    if (head.capacity === undefined || head.agent !== undefined || head.regions !== undefined)
      throw new InvalidParamError(
        `tier '${head.name}': the top tier is this agent's DRAM: give a capacity, no agent or regions`,
      );
    if ((head.memType ?? 'DRAM') !== 'DRAM')
      throw new InvalidParamError(`tier '${head.name}': the top tier is DRAM`);
    const lower = tiers.slice(1).map((t) => {
      if (typeof t.agent !== 'string' || t.agent.length === 0)
        throw new InvalidParamError(`tier '${t.name}': a lower tier names the agent holding it`);
      return { spec: t, ...tierSlots(t, blockBytes) };
    });

    // Everything below is undone if a later step throws (an unknown peer, an unregistered region).
    const regs: Registration[] = [];
    const prepped: PreppedDlist[] = [];
    try {
      const topBytes = head.capacity * blockBytes;
      const top = agent.alloc(topBytes + stagingBlocks * blockBytes).buffer;
      regs.push(agent.registerMem(top, { backends: head.backends }));
      const local = (from: number, n: number) =>
        Array.from({ length: n }, (_, i) => ({
          addr: regs[0]!.descs.at(0).addr + BigInt(from + i * blockBytes),
          len: blockBytes,
          devId: 0,
        }));
      const topList = agent.prepXferDlist('', local(0, head.capacity));
      prepped.push(topList);
      const staging = agent.prepXferDlist('', local(topBytes, stagingBlocks));
      prepped.push(staging);
      const states = [
        new TierState(
          0,
          {
            name: head.name,
            memType: 'DRAM',
            agent: '',
            capacity: head.capacity,
            backends: head.backends,
          },
          topList,
        ),
      ];
      for (const [i, l] of lower.entries()) {
        const list = agent.prepXferDlist(l.spec.agent!, l.descs, { memType: l.memType });
        prepped.push(list);
        states.push(
          new TierState(
            i + 1,
            {
              name: l.spec.name,
              memType: l.memType,
              agent: l.spec.agent!,
              capacity: l.capacity,
              backends: l.spec.backends,
            },
            list,
          ),
        );
      }
      return new KvBlockManager(agent, blockBytes, states, top, regs, staging, stagingBlocks);
    } catch (err) {
      for (const p of prepped) p.release();
      for (const r of regs) r.close();
      throw err;
    }
  }

  get tierNames(): string[] {
    return this.#tiers.map((t) => t.name);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The tier holding a block, or undefined. */
  locate(hash: BlockHash): { tier: string; slot: number } | undefined {
    const e = this.#index.get(hash);
    return e ? { tier: e.tier.name, slot: e.slot } : undefined;
  }

  /** How many leading blocks of the list some tier holds (moves nothing). */
  match(hashes: readonly BlockHash[]): number {
    let n = 0;
    while (n < hashes.length && this.#index.has(hashes[n]!)) n++;
    return n;
  }

  /**
   * The bytes of a block in the top tier (a live view: valid until the block
   * is evicted, so read it before the next put or onboard).
   */
  view(hash: BlockHash): Uint8Array {
    const e = this.#index.get(hash);
    if (!e || e.tier.index !== 0 || e.busy)
      throw new NotFoundError(`block ${hash.slice(0, 16)}… is not in the top tier`, {
        op: 'view',
      });
    return this.#slotView(e.slot);
  }

  /**
   * Stores a newly computed block in the top tier (evicting down the tiers
   * as needed). Returns false if the block was already cached (then it only
   * becomes the most recently used).
   */
  async put(hash: BlockHash, parent: BlockHash | null, data: Uint8Array): Promise<boolean> {
    this.#checkOpen('put');
    checkBlockHash(hash, 'put');
    if (parent !== null) checkBlockHash(parent, 'put parent');
    if (!(data instanceof Uint8Array) || data.byteLength !== this.blockBytes)
      throw new InvalidParamError(
        `put: a block is ${this.blockBytes} bytes, got ${data instanceof Uint8Array ? data.byteLength : typeof data}`,
      );
    const pending = this.#putting.get(hash);
    if (pending) return pending.then(() => false);
    const known = this.#index.get(hash);
    if (known) {
      known.tier.touch(known);
      return false;
    }
    const p = (async () => {
      const top = this.#tiers[0]!;
      const [slot] = await this.#takeSlots(top, 1);
      this.#slotView(slot!).set(data);
      const e: BlockEntry = { hash, parent, tier: top, slot: slot!, busy: null, pins: 0 };
      this.#index.set(hash, e);
      top.lru.set(hash, e);
      this.#puts++;
      this.emit('stored', { tier: top.name, blocks: [{ hash, parent }] });
      return true;
    })();
    this.#putting.set(hash, p);
    try {
      return await p;
    } finally {
      this.#putting.delete(hash);
    }
  }

  /**
   * Finds the longest cached prefix of `hashes` and brings it into the top
   * tier (one transfer per source tier), most recently used. At most the top
   * tier's capacity is onboarded. A failing tier rejects the call with its
   * error; its blocks stay where they were.
   */
  async onboard(hashes: readonly BlockHash[]): Promise<OnboardResult> {
    this.#checkOpen('onboard');
    if (!Array.isArray(hashes)) throw new InvalidParamError('onboard: expected a list of hashes');
    for (const h of hashes) checkBlockHash(h, 'onboard');
    if (new Set(hashes).size !== hashes.length)
      throw new InvalidParamError('onboard: a hash appears twice (a prefix names each block once)');
    const top = this.#tiers[0]!;
    const entries: BlockEntry[] = [];
    try {
      for (const h of hashes) {
        let e = this.#index.get(h);
        while (e?.busy) {
          await e.busy;
          e = this.#index.get(h);
        }
        if (!e) {
          this.#misses += hashes.length - entries.length;
          break;
        }
        if (entries.length === top.capacity) break;
        e.pins++;
        entries.push(e);
      }
      const found: Record<string, number> = {};
      for (const e of entries) {
        found[e.tier.name] = (found[e.tier.name] ?? 0) + 1;
        e.tier.hits++;
      }
      // Each round starts with none of the blocks moving, so a group is chosen and marked
      // busy without an await between: two onboards never move one block twice.
      for (;;) {
        const moving = entries.find((e) => e.busy);
        if (moving) {
          await moving.busy;
          continue;
        }
        const first = entries.find((e) => e.tier !== top);
        if (!first) break;
        const src = first.tier;
        const group = entries.filter((e) => e.tier === src);
        const freed = await this.#move(group, src, top, true);
        src.free.push(...freed);
      }
      for (const e of entries) top.touch(e);
      return { blocks: entries.length, found, slots: entries.map((e) => e.slot) };
    } finally {
      for (const e of entries) e.pins--;
    }
  }

  /**
   * Forgets blocks (the engine invalidated them): each leaves its tier with a
   * removed event. Blocks moving or pinned by an onboard are kept; returns how
   * many were removed.
   */
  remove(hashes: readonly BlockHash[]): number {
    this.#checkOpen('remove');
    for (const h of hashes) checkBlockHash(h, 'remove');
    let n = 0;
    for (const h of new Set(hashes)) {
      const e = this.#index.get(h);
      if (!e || e.busy || e.pins > 0) continue;
      e.tier.free.push(...this.#drop(e.tier, [e], false));
      n++;
    }
    return n;
  }

  /**
   * Declares a tier lost (its peer is gone, its file removed): its blocks
   * leave the index (a removed event), and evictions skip it from now on.
   */
  forgetTier(name: string): number {
    const t = this.#tiers.find((x) => x.name === name);
    if (!t) throw new NotFoundError(`no tier named '${name}'`, { op: 'forgetTier' });
    if (t.index === 0) throw new InvalidParamError('forgetTier: the top tier cannot be forgotten');
    t.offline = true;
    // Blocks an onboard holds stay until it ends (it will fail on the lost tier).
    const gone = [...t.lru.values()].filter((e) => !e.busy && e.pins === 0);
    this.#drop(t, gone, true);
    return gone.length;
  }

  stats(): KvManagerStats {
    return { tiers: this.#tiers.map((t) => t.stats()), misses: this.#misses, puts: this.#puts };
  }

  /** Releases the prepared lists and deregisters the top tier; the index is emptied. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#tiers) if (!this.agent.closed) t.prepped.release();
    if (!this.agent.closed) this.#staging.release();
    for (const r of this.#regs) r.close();
    this.#index.clear();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  // ----------------------------------------------------------------- moves

  #slotView(slot: number): Uint8Array {
    return this.#top.subarray(slot * this.blockBytes, (slot + 1) * this.blockBytes);
  }

  #below(t: TierState): TierState | undefined {
    for (let i = t.index + 1; i < this.#tiers.length; i++)
      if (!this.#tiers[i]!.offline) return this.#tiers[i];
    return undefined;
  }

  /** Takes blocks out of the index; `evicted` counts them as dropped. Returns their slots. */
  #drop(t: TierState, victims: BlockEntry[], evicted: boolean): number[] {
    const slots: number[] = [];
    for (const v of victims) {
      this.#index.delete(v.hash);
      t.lru.delete(v.hash);
      slots.push(v.slot);
    }
    if (evicted) t.dropped += victims.length;
    if (victims.length) this.emit('removed', { tier: t.name, hashes: victims.map((v) => v.hash) });
    return slots;
  }

  /**
   * k free slots of a tier, evicting its least recently used blocks that are
   * neither pinned nor moving: to the next tier, or, if that one cannot make
   * room (its own blocks pinned or moving: NotAllowedError), to a lower one;
   * dropped where no tier below can take them (or from the last tier).
   */
  async #takeSlots(t: TierState, k: number): Promise<number[]> {
    const got: number[] = [];
    const takeFree = () =>
      got.push(...t.free.splice(t.free.length - Math.min(k - got.length, t.free.length)));
    takeFree();
    try {
      let dest = this.#below(t);
      while (got.length < k) {
        // Chosen anew each round: after an await, other calls may have pinned or moved them.
        const need = k - got.length;
        const victims: BlockEntry[] = [];
        for (const e of t.lru.values()) {
          if (e.busy || e.pins > 0) continue;
          victims.push(e);
          if (victims.length === need) break;
        }
        if (victims.length < need)
          throw new NotAllowedError(
            `tier '${t.name}': ${k} slots needed, ${got.length + t.free.length} free and ` +
              `${victims.length} evictable (the other blocks are pinned by onboards or moving)`,
          );
        if (!dest) {
          got.push(...this.#drop(t, victims, true));
          break;
        }
        try {
          got.push(...(await this.#move(victims, t, dest, false)));
        } catch (err) {
          if (!(err instanceof NotAllowedError)) throw err;
          dest = this.#below(dest);
        }
        takeFree();
      }
    } catch (err) {
      t.free.push(...got);
      throw err;
    }
    return got;
  }

  /**
   * Moves blocks that all live in `src` to `dst`; returns the source slots
   * they left (the caller owns them). The index changes only after the
   * transfer is DONE; on failure the destination slots go back.
   */
  async #move(
    blocks: BlockEntry[],
    src: TierState,
    dst: TierState,
    onboard: boolean,
  ): Promise<number[]> {
    let settle!: () => void;
    const busy = new Promise<void>((r) => (settle = r));
    for (const b of blocks) b.busy = busy;
    try {
      const dstSlots = await this.#takeSlots(dst, blocks.length);
      const srcSlots = blocks.map((b) => b.slot);
      const t0 = performance.now();
      try {
        await this.#copy(src, srcSlots, dst, dstSlots);
      } catch (err) {
        dst.free.push(...dstSlots);
        src.errors++;
        dst.errors++;
        throw err;
      }
      const bytes = blocks.length * this.blockBytes;
      const ms = performance.now() - t0;
      add(src.out, blocks.length, bytes, ms);
      add(dst.in, blocks.length, bytes, ms);
      if (onboard) add(src.onboard, blocks.length, bytes, ms);
      for (const [i, b] of blocks.entries()) {
        src.lru.delete(b.hash);
        b.tier = dst;
        b.slot = dstSlots[i]!;
        dst.lru.set(b.hash, b);
      }
      this.emit('stored', {
        tier: dst.name,
        blocks: blocks.map((b) => ({ hash: b.hash, parent: b.parent })),
      });
      this.emit('removed', { tier: src.name, hashes: blocks.map((b) => b.hash) });
      return srcSlots;
    } finally {
      for (const b of blocks) b.busy = null;
      settle();
    }
  }

  /** The bytes of src's slots into dst's slots: one transfer, or two through staging. */
  async #copy(src: TierState, from: number[], dst: TierState, to: number[]): Promise<void> {
    if (src.index === 0) return this.#xfer('WRITE', src.prepped, from, dst, to);
    if (dst.index === 0) return this.#xfer('READ', dst.prepped, to, src, from);
    // Lower tier to lower tier: each side is a target, so the bytes pass through local DRAM.
    const prev = this.#stagingLock;
    let unlock!: () => void;
    this.#stagingLock = new Promise<void>((r) => (unlock = r));
    await prev;
    try {
      for (let k = 0; k < from.length; k += this.#stagingBlocks) {
        const n = Math.min(this.#stagingBlocks, from.length - k);
        const idx = Array.from({ length: n }, (_, i) => i);
        await this.#xfer('READ', this.#staging, idx, src, from.slice(k, k + n));
        await this.#xfer('WRITE', this.#staging, idx, dst, to.slice(k, k + n));
      }
    } finally {
      unlock();
    }
  }

  async #xfer(
    op: XferOp,
    local: PreppedDlist,
    li: number[],
    remote: TierState,
    ri: number[],
  ): Promise<void> {
    const req = this.agent.makeXferReq(op, local, li, remote.prepped, ri, {
      backends: remote.backends,
    });
    try {
      if (this.agent.postXferReq(req) !== 'DONE') await req.wait();
    } finally {
      this.agent.releaseXferReq(req);
    }
  }

  #checkOpen(op: string): void {
    if (this.#closed) throw new NotAllowedError('the block manager is closed', { op });
  }
}

function add(c: KvMoveCounters, blocks: number, bytes: number, ms: number): void {
  c.blocks += blocks;
  c.bytes += bytes;
  c.ms += ms;
}
