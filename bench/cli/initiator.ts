import { performance } from 'node:perf_hooks';

import { Agent, DescList, type XferRequest } from '../../src/index.js';
import {
  describeMismatch,
  fillPattern,
  verifyPattern,
  type PatternMismatch,
} from '../../testing/pattern.js';
import { awaitLoop } from './await-loop.js';
import type { Control } from './control.js';
import { newSamples, type LoopPlan, type Samples } from './loop-types.js';
import { withLoopbackDevices } from './loopback.js';
import {
  cellIterations,
  cellWarmup,
  regionBytes,
  type Op,
  type SweepConfig,
  type TcpPath,
} from './options.js';
import { observeTcpPath, tcpEndpoints, ucxPath } from './path.js';
import type { TcpBackend } from '../../backends/tcp/index.js';
import { pollLoop } from './poll-loop.js';
import type { CellResult } from './results.js';
import { formatBytes } from './sizes.js';
import { summarize } from './stats.js';

export const INITIATOR_AGENT = 'nixl-ts-bench-initiator';

/**
 * Warm-up passes per cell (--warmup iterations split between them): each call
 * of the timed loop makes its own closures, and V8's code compiled for the
 * first call's is thrown away at the second ("wrong call target"): that must
 * happen before the timed call.
 */
const WARMUP_PASSES = 2;

/** Requests prepared (and released) to time preparation when the loop reposts. */
const PREP_SAMPLES = 200;

export interface CellPlan {
  op: Op;
  blockSize: number;
  batch: number;
}

/** Every cell of a sweep for one backend and path, in the order they run. */
export function planCells(s: SweepConfig): CellPlan[] {
  return s.ops.flatMap((op) => s.cells.map((c) => ({ op, ...c })));
}

/** One initiator agent per run: a backend, and for TCP one of its paths. */
export interface RunSpec {
  backend: string;
  /** TCP only: the path the initiator asks for (same_host off or auto). */
  tcpPath?: TcpPath;
}

/** The runs of a sweep: each backend, TCP once per path. */
export function planRuns(backends: string[], s: SweepConfig): RunSpec[] {
  return backends.flatMap((backend) =>
    backend === 'TCP' ? s.paths.map((tcpPath) => ({ backend, tcpPath })) : [{ backend }],
  );
}

/**
 * The initiator's side of one run: its agent and registered area, the
 * target's metadata, and the timed loop (poll-loop.ts or await-loop.ts).
 */
export class BackendRun {
  /** Whether this process timed a cell already (see --warmup-ms). */
  static #warmProcess = false;
  readonly backend: string;
  readonly #spec: RunSpec;
  readonly #control: Control;
  readonly #sweep: SweepConfig;
  #agent!: Agent;
  #mem!: Buffer;
  #localBase = 0n;
  #remoteBase = 0n;
  #target = '';
  #targetMd: Uint8Array = new Uint8Array();
  #params: Record<string, string> = {};
  #seed = 0;
  /** The TCP backend's shared-memory copies when the last cell ended (path column). */
  #shmCopies = 0;

  private constructor(spec: RunSpec, control: Control, sweep: SweepConfig) {
    this.backend = spec.backend;
    this.#spec = spec;
    this.#control = control;
    this.#sweep = sweep;
  }

  /** The initiator's backend parameters (a TCP path sets same_host). */
  get params(): Readonly<Record<string, string>> {
    return this.#params;
  }

  static async open(
    spec: RunSpec,
    control: Control,
    sweep: SweepConfig,
    loopback: boolean,
  ): Promise<BackendRun> {
    const { backend } = spec;
    const run = new BackendRun(spec, control, sweep);
    const agent = await Agent.create({ name: INITIATOR_AGENT, waitSpinUs: sweep.waitSpinUs });
    run.#agent = agent;
    try {
      const defaults = agent.getPluginParams(backend).params;
      const params = { ...sweep.params, ...sweep.initiatorParams };
      if (spec.tcpPath) params.same_host = spec.tcpPath === 'socket' ? 'off' : 'auto';
      run.#params = params;
      await agent.createBackend(backend, withLoopbackDevices(defaults, params, loopback));
      const { buffer, desc } = agent.alloc(regionBytes(sweep));
      agent.registerMem(buffer, { backends: [backend] });
      run.#mem = buffer;
      run.#localBase = desc.addr;
      const open = await control.request<{ md: string; base: string }>('open', {
        backend,
        params: { ...sweep.params, ...sweep.targetParams },
        // Same host: the target's memory comes from the TCP backend's alloc, which
        // this initiator may map (shared memory; same_host_shm=off: ordinary memory),
        // unless --target-memory plain.
        backendAlloc:
          backend === 'TCP' && spec.tcpPath === 'same-host' && sweep.targetMemory === 'backend',
      });
      run.#targetMd = Buffer.from(open.md, 'base64');
      run.#target = agent.loadRemoteMD(run.#targetMd);
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

  /**
   * The path the cells take now, from the kernel's view of the connections
   * (see path.ts); on the same-host path, 'shm' when the cell's `posts` (at
   * least) were memcpys through the target's shared memory, 'shm+same-host'
   * when only some were (the TCP backend counts them); 'pull' likewise when
   * they were READs pulled under a pull grant (plain target memory).
   */
  observePath(posts: number): string {
    if (this.backend === 'UCX') return ucxPath(this.#params);
    if (this.backend !== 'TCP') return this.backend;
    const seen = observeTcpPath(tcpEndpoints(this.#targetMd));
    const tcp = this.#agent.backends.find((b) => b.type === 'TCP') as TcpBackend | undefined;
    const counters = tcp?.shmCounters();
    const copies = counters?.copies ?? 0;
    const took = copies - this.#shmCopies;
    this.#shmCopies = copies;
    if (seen !== 'same-host' || took === 0) return seen;
    const direct = counters!.maps > 0 ? 'shm' : 'pull';
    return took >= posts ? direct : `${direct}+same-host`;
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
    const loop = s.wait === 'poll' ? pollLoop : awaitLoop;
    const failAt = performance.now() + s.cellTimeoutSeconds * 1000;
    const failure = () =>
      new Error(
        `cell ${formatBytes(blockSize)}×${batch} ${op} did not finish within ${s.cellTimeoutSeconds} s`,
      );
    const samples = newSamples(planned);
    const slots: (XferRequest | undefined)[] = new Array(depth).fill(undefined);
    const run = (iterations: number, ms: number, into: Samples | undefined): LoopPlan => ({
      agent,
      slots,
      prepare,
      recreate: s.recreate,
      iterations,
      stopStartingAt: performance.now() + ms,
      failAt,
      failure,
      samples: into,
    });
    let seconds = 0;
    let warmupMs = 0;
    let targetElu = NaN;
    try {
      if (!s.recreate) for (let k = 0; k < depth; k++) slots[k] = prepare(k);
      const maxMs = s.maxCellSeconds * 1000;
      // Reposting requests prepares nothing in the timed loop: time preparing
      // on its own (prepare + release), outside the transfers' clock. Before
      // the warm-up: requests made and released change the shapes the loop's
      // compiled code depends on, and V8 would recompile it in the timed loop.
      if (!s.recreate)
        this.#samplePrep(prepare, Math.min(planned, PREP_SAMPLES), maxMs / 4, samples);
      // The warm-up runs the timed loop's code, recording included (into
      // samples that are dropped): code that V8 compiled without the
      // recording would be thrown away at the first timed transfer. The
      // first cell of a process repeats it for --warmup-ms at least, until
      // V8 has compiled the loop and the agent's status reads with its
      // optimizing compiler: before that a transfer costs 1.5-3x as much
      // (results/2026-12-socket-write-mid/), and nixlbench's C++ has no such
      // phase to measure.
      const warmStart = performance.now();
      const perPass = Math.ceil(warmup / WARMUP_PASSES);
      let passes = 0;
      do {
        await loop(run(perPass, maxMs / 2, newSamples(perPass)));
        passes++;
      } while (
        warmup > 0 &&
        (passes < WARMUP_PASSES ||
          (!BackendRun.#warmProcess && performance.now() - warmStart < s.warmupMs))
      );
      BackendRun.#warmProcess = true;
      warmupMs = performance.now() - warmStart;
      await this.#control.request('begin-timed');
      const timed = run(planned, maxMs, samples);
      const t0 = performance.now();
      await loop(timed);
      seconds = (performance.now() - t0) / 1000;
      targetElu = (await this.#control.request<{ elu: number }>('end-timed')).elu;
    } finally {
      for (const r of slots) r?.release();
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
      path: this.observePath(iterations),
      wait: s.wait,
      yields: samples.yields,
      op,
      blockSize,
      batch,
      depth,
      iterations,
      warmup,
      warmupMs,
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
}
