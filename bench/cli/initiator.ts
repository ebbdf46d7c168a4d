import { performance } from 'node:perf_hooks';

import { Agent, DescList, type XferRequest } from '../../src/index.js';
import {
  describeMismatch,
  fillPattern,
  verifyPattern,
  type PatternMismatch,
} from '../../testing/pattern.js';
import type { ControlClient } from './control.js';
import { withLoopbackDevices } from './loopback.js';
import { cellIterations, cellWarmup, regionBytes, type Op, type SweepConfig } from './options.js';
import type { CellResult } from './results.js';
import { formatBytes } from './sizes.js';
import { summarize } from './stats.js';

export const INITIATOR_AGENT = 'nixl-ts-bench-initiator';

/** Requests prepared (and released) to time preparation when the loop reposts. */
const PREP_SAMPLES = 200;

export interface CellPlan {
  op: Op;
  blockSize: number;
  batch: number;
}

/** Every cell of a sweep for one backend, in the order they run. */
export function planCells(s: SweepConfig): CellPlan[] {
  const cells: CellPlan[] = [];
  for (const op of s.ops)
    for (const batch of s.batchSizes)
      for (const blockSize of s.blockSizes) cells.push({ op, blockSize, batch });
  return cells;
}

interface Samples {
  prep: number[];
  post: Float64Array;
  tx: Float64Array;
  count: number;
}

/**
 * The initiator's side of one backend's sweep: its agent and registered area,
 * the target's metadata, and the loop that times prep, post and transfer.
 */
export class BackendRun {
  readonly backend: string;
  readonly #control: ControlClient;
  readonly #sweep: SweepConfig;
  #agent!: Agent;
  #mem!: Buffer;
  #localBase = 0n;
  #remoteBase = 0n;
  #target = '';
  #seed = 0;

  private constructor(backend: string, control: ControlClient, sweep: SweepConfig) {
    this.backend = backend;
    this.#control = control;
    this.#sweep = sweep;
  }

  static async open(
    backend: string,
    control: ControlClient,
    sweep: SweepConfig,
    loopback: boolean,
  ): Promise<BackendRun> {
    const run = new BackendRun(backend, control, sweep);
    const agent = await Agent.create({ name: INITIATOR_AGENT });
    run.#agent = agent;
    try {
      const defaults = agent.getPluginParams(backend).params;
      const params = { ...sweep.params, ...sweep.initiatorParams };
      await agent.createBackend(backend, withLoopbackDevices(defaults, params, loopback));
      const { buffer, desc } = agent.alloc(regionBytes(sweep));
      agent.registerMem(buffer, { backends: [backend] });
      run.#mem = buffer;
      run.#localBase = desc.addr;
      const open = await control.request<{ md: string; base: string }>('open', {
        backend,
        params: { ...sweep.params, ...sweep.targetParams },
      });
      run.#target = agent.loadRemoteMD(Buffer.from(open.md, 'base64'));
      run.#remoteBase = BigInt(open.base);
      await agent.makeConnection(run.#target);
    } catch (err) {
      await run.close();
      throw err;
    }
    return run;
  }

  async close(): Promise<void> {
    await this.#control.request('close-backend').catch(() => {});
    await this.#agent?.close();
  }

  #lists(base: bigint, blockSize: number, batch: number, slot: number): DescList {
    const list = new DescList('DRAM', batch);
    for (let j = 0; j < batch; j++) {
      list.add(base + BigInt((slot * batch + j) * blockSize), blockSize, 0);
    }
    return list;
  }

  /** Runs one cell: warm-up, the timed loop, then the consistency check. */
  async runCell(plan: CellPlan): Promise<CellResult> {
    const s = this.#sweep;
    const { op, blockSize, batch } = plan;
    const depth = s.depth;
    const area = depth * batch * blockSize;
    const seed = ++this.#seed * 7919;
    const corrupt = s.corruptTargetByte;

    if (s.check) {
      if (op === 'WRITE') fillPattern(this.#mem.subarray(0, area), seed);
      else this.#mem.fill(0, 0, area);
      await this.#control.request('prepare-cell', { op, len: area, seed, corrupt });
    }

    const agent = this.#agent;
    const locals: DescList[] = [];
    const remotes: DescList[] = [];
    for (let k = 0; k < depth; k++) {
      locals.push(this.#lists(this.#localBase, blockSize, batch, k));
      remotes.push(this.#lists(this.#remoteBase, blockSize, batch, k));
    }
    const prepped = s.prepared
      ? {
          local: agent.prepXferDlist('', this.#lists(this.#localBase, blockSize, batch * depth, 0)),
          remote: agent.prepXferDlist(
            this.#target,
            this.#lists(this.#remoteBase, blockSize, batch * depth, 0),
          ),
          indices: locals.map((_, k) =>
            Uint32Array.from({ length: batch }, (_, j) => k * batch + j),
          ),
        }
      : undefined;
    const prepare = (slot: number): XferRequest =>
      prepped
        ? agent.makeXferReq(
            op,
            prepped.local,
            prepped.indices[slot]!,
            prepped.remote,
            prepped.indices[slot]!,
            {
              skipDescMerge: s.skipDescMerge,
            },
          )
        : agent.createXferReq(op, locals[slot]!, remotes[slot]!, this.#target);

    const planned = cellIterations(s, blockSize);
    const warmup = cellWarmup(s, blockSize);
    const timeout = new AbortController();
    const timer = setTimeout(
      () =>
        timeout.abort(
          new Error(
            `cell ${formatBytes(blockSize)}×${batch} ${op} did not finish within ${s.cellTimeoutSeconds} s`,
          ),
        ),
      s.cellTimeoutSeconds * 1000,
    );
    const samples: Samples = {
      prep: [],
      post: new Float64Array(planned),
      tx: new Float64Array(planned),
      count: 0,
    };
    let seconds = 0;
    let targetElu = NaN;
    try {
      const slots: (XferRequest | undefined)[] = [];
      if (!s.recreate) for (let k = 0; k < depth; k++) slots.push(prepare(k));
      const maxMs = s.maxCellSeconds * 1000;
      await this.#loop(slots, prepare, warmup, maxMs / 2, undefined, timeout.signal);
      // Reposting requests prepares nothing in the timed loop: time preparing
      // on its own (prepare + release), warm, outside the transfers' clock.
      if (!s.recreate)
        this.#samplePrep(prepare, Math.min(planned, PREP_SAMPLES), maxMs / 4, samples);
      await this.#control.request('begin-timed');
      const t0 = performance.now();
      await this.#loop(slots, prepare, planned, maxMs, samples, timeout.signal);
      seconds = (performance.now() - t0) / 1000;
      targetElu = (await this.#control.request<{ elu: number }>('end-timed')).elu;
      for (const r of slots) r?.release();
    } finally {
      clearTimeout(timer);
      prepped?.local.release();
      prepped?.remote.release();
    }

    let check: CellResult['check'] = 'off';
    if (s.check) {
      let mismatch: PatternMismatch | null | undefined;
      if (op === 'WRITE') {
        mismatch = (
          await this.#control.request<{ mismatch: PatternMismatch | null }>('verify-cell', {
            len: area,
            seed,
            corrupt,
          })
        ).mismatch;
      } else {
        mismatch = verifyPattern(this.#mem.subarray(0, area), seed);
      }
      check = mismatch ? `failed: ${describeMismatch(mismatch)}` : 'passed';
    }

    const iterations = samples.count;
    const bytes = iterations * batch * blockSize;
    const perBlock = iterations * batch;
    return {
      backend: this.backend,
      op,
      blockSize,
      batch,
      depth,
      iterations,
      warmup,
      plannedIterations: planned,
      bytes,
      seconds,
      gbps: bytes / seconds / 1e9,
      avgLatUs: perBlock > 0 ? (seconds * 1e6) / perBlock : NaN,
      prep: summarize(samples.prep),
      post: summarize(samples.post, iterations),
      tx: summarize(samples.tx, iterations),
      targetElu,
      check,
      baselines: {},
      compare: {},
    };
  }

  #samplePrep(
    prepare: (slot: number) => XferRequest,
    count: number,
    maxMs: number,
    samples: Samples,
  ): void {
    const deadline = performance.now() + maxMs;
    for (let i = 0; i < count && (i === 0 || performance.now() < deadline); i++) {
      const t0 = performance.now();
      const req = prepare(i % this.#sweep.depth);
      samples.prep.push((performance.now() - t0) * 1000);
      req.release();
    }
  }

  /**
   * Posts `iterations` transfers with up to depth in flight (one per slot),
   * until done or maxMs passed. With samples, records post and post→DONE
   * times (µs); with --recreate also the prep of each request.
   */
  async #loop(
    slots: (XferRequest | undefined)[],
    prepare: (slot: number) => XferRequest,
    iterations: number,
    maxMs: number,
    samples: Samples | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    const s = this.#sweep;
    const agent = this.#agent;
    const deadline = performance.now() + maxMs;
    let started = 0;
    const slotLoop = async (k: number): Promise<void> => {
      while (started < iterations && (started === 0 || performance.now() < deadline)) {
        const i = started++;
        let req = slots[k];
        if (s.recreate || !req) {
          const t0 = performance.now();
          req = prepare(k);
          if (samples) samples.prep.push((performance.now() - t0) * 1000);
        }
        const t1 = performance.now();
        const state = agent.postXferReq(req);
        const t2 = performance.now();
        if (state !== 'DONE') await req.wait({ signal });
        const t3 = performance.now();
        if (samples) {
          samples.post[i] = (t2 - t1) * 1000;
          samples.tx[i] = (t3 - t1) * 1000;
          samples.count = Math.max(samples.count, i + 1);
        }
        if (s.recreate) req.release();
        else slots[k] = req;
        // A post that completed inside post() (DONE) awaited nothing: yield so
        // the other depth slots post too, or this one would run the whole cell
        // while theirs never move their bytes.
        if (state === 'DONE') await Promise.resolve();
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(s.depth, Math.max(iterations, 1)) }, (_, k) => slotLoop(k)),
    );
  }
}
