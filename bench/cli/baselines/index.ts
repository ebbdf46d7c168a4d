import type { Control } from '../control.js';
import type { BaselineName } from '../options.js';
import type { CellResult, Reference } from '../results.js';
import { formatBytes } from '../sizes.js';
import { IPERF3_MAX_WRITE, iperf3Gbps } from './iperf3.js';
import { coldAreaBytes, coldMemcpyGbps } from './memcpy.js';
import { netStreamGbps } from './net-stream.js';
import { putFlush } from './put-flush.js';
import { requestResponse } from './request-response.js';
import { ucxPerftest } from './ucx-perftest.js';
import { vmCopy } from './vm-copy.js';

const MIB = 1024 * 1024;

/** The kind of path a cell took, which decides its floors. */
export type PathKind = 'socket' | 'same-host' | 'ucx' | 'other';

export function pathKind(cell: CellResult): PathKind {
  if (cell.backend === 'UCX') return 'ucx';
  if (cell.path === 'socket' || cell.path === 'same-host') return cell.path;
  // Shared memory is a same-host path: its floors are a cold memcpy and process_vm.
  if (cell.path === 'shm' || cell.path === 'shm+same-host') return 'same-host';
  return 'other';
}

/** Which baselines are the floor of which path (--baseline measures these). */
export const FLOORS: Record<PathKind, readonly BaselineName[]> = {
  socket: ['iperf3', 'reqresp', 'net'],
  'same-host': ['memcpy', 'vmcopy'],
  ucx: ['putflush', 'ucx_perftest'],
  other: [],
};

/** What each baseline measures, for the notes under the tables. */
const ABOUT: Record<Exclude<BaselineName, 'memcpy'>, string> = {
  iperf3: 'iperf3, one TCP stream over the same address, writes of the block size (at most 1 MiB)',
  reqresp:
    "request-response.c: one request at a time over loopback TCP (WRITE: the cell's bytes out, 8 back; READ: 8 out, the bytes back)",
  net: 'a raw Node net stream between two plain Node processes (what Node itself gets; not a floor)',
  vmcopy:
    "vm-copy.c: one process_vm_writev (WRITE) / process_vm_readv (READ) of the cell's blocks per transfer, single thread",
  putflush:
    "put-flush.c: requests of the cell's puts (WRITE) / gets (READ) and one ep flush each, same transports and depth, in C",
  ucx_perftest:
    'ucx_perftest ucp_put_bw / ucp_get: streamed messages, no completion per message (not a floor of a request)',
};

export function aboutBaseline(name: BaselineName): string {
  if (name !== 'memcpy') return ABOUT[name];
  return `memcpy, single thread, blocks one after the other through ${formatBytes(coldAreaBytes())} (over the last-level cache): cold memory, as a transfer's`;
}

/**
 * Stream baselines move as many bytes as the cell did, within bounds that
 * keep one measurement to about a second on a slow loopback.
 */
function streamBytes(cell: CellResult): number {
  return Math.min(128 * MIB, Math.max(32 * MIB, cell.bytes));
}

/** ucx_perftest's puts over tcp collapse at large sizes (UCX 1.13): bound its bytes too. */
const UCX_MAX_BYTES = 32 * MIB;

export interface Measured {
  gbps: number;
  note?: string;
  avgLatUs?: number;
}

/** What the baselines of a cell need to know about the run that made it. */
export interface RunContext {
  /** The initiator's backend parameters. */
  params: Readonly<Record<string, string>>;
  /** The target's backend parameters. */
  targetParams: Readonly<Record<string, string>>;
}

function truthy(v: string | undefined): boolean {
  return v !== undefined && v !== '' && v !== '0';
}

/** UCX parameter under any of its names (backends/ucx/params.ts). */
function ucxParam(p: Readonly<Record<string, string>>, ...names: string[]): string | undefined {
  for (const n of names) if (p[n] !== undefined) return p[n];
  return undefined;
}

/**
 * Measures each cell's floors right after each run of it (interleaved, so
 * both see the same load) and attaches them with the cell's ratio to each.
 * A cell gets only its own path's baselines (FLOORS): socket cells are never
 * set beside a copy, same-host cells never beside a TCP stream. A reference
 * that depends only on part of the cell (iperf3 and memcpy: the block size)
 * is measured once per key; with --repeat, its median is kept.
 */
export class BaselineRunner {
  readonly #control: Control;
  readonly #host: string;
  readonly #loopback: boolean;
  readonly #ucxTls: string;
  readonly #enabled: BaselineName[];
  readonly #cache = new Map<string, Measured>();
  readonly notes: string[] = [];

  constructor(opts: {
    control: Control;
    host: string;
    loopback: boolean;
    ucxTls: string;
    wanted: BaselineName[];
    /** What the target host has installed (from its hello). */
    targetTools: { iperf3: boolean; ucx_perftest: boolean };
    localTools: { iperf3: boolean; ucx_perftest: boolean };
  }) {
    this.#control = opts.control;
    this.#host = opts.host;
    this.#loopback = opts.loopback;
    this.#ucxTls = opts.ucxTls;
    this.#enabled = opts.wanted.filter((b) => {
      if (b === 'iperf3' || b === 'ucx_perftest') {
        const ok = opts.targetTools[b] && opts.localTools[b];
        if (!ok)
          this.notes.push(
            `${b} is not installed on ${opts.localTools[b] ? 'the target host' : 'this host'}: its column is left out`,
          );
        return ok;
      }
      if ((b === 'reqresp' || b === 'vmcopy' || b === 'putflush') && !opts.loopback) {
        this.notes.push(`${b} runs on one host only: its column is left out with a remote target`);
        return false;
      }
      return true;
    });
  }

  get enabled(): readonly BaselineName[] {
    return this.#enabled;
  }

  /** The enabled baselines that are floors of this cell's path. */
  forCell(cell: CellResult): BaselineName[] {
    const floors = FLOORS[pathKind(cell)];
    return this.#enabled.filter((b) => floors.includes(b));
  }

  /**
   * Measures each of the cell's references once for the run just made (those
   * already known for their key are skipped) and adds the results to samples.
   */
  async sample(
    cell: CellResult,
    run: RunContext,
    samples: Map<BaselineName, Measured[]>,
  ): Promise<void> {
    for (const name of this.forCell(cell)) {
      if (this.#cache.has(this.#key(name, cell, run))) continue;
      let m: Measured;
      try {
        m = await this.#measureOne(name, cell, run);
      } catch (err) {
        m = { gbps: NaN, note: `failed: ${(err as Error).message}` };
      }
      samples.set(name, [...(samples.get(name) ?? []), m]);
    }
  }

  /** Attaches each reference (the median of its samples) to the cell, with the cell's ratio. */
  attach(cell: CellResult, run: RunContext, samples: Map<BaselineName, Measured[]>): void {
    for (const name of this.forCell(cell)) {
      const key = this.#key(name, cell, run);
      let m = this.#cache.get(key);
      if (!m) {
        const ok = (samples.get(name) ?? []).filter((x) => Number.isFinite(x.gbps));
        ok.sort((a, b) => a.gbps - b.gbps);
        m = ok[(ok.length - 1) >> 1] ?? samples.get(name)?.[0];
        if (!m) continue;
        this.#cache.set(key, m);
      }
      const ref: Reference = { gbps: m.gbps, ratio: cell.gbps / m.gbps };
      if (m.note) ref.note = m.note;
      if (m.avgLatUs !== undefined) ref.avgLatUs = m.avgLatUs;
      cell.baselines[name] = ref;
    }
  }

  #spin(run: RunContext): boolean {
    return truthy(run.params.busy_poll_us) || truthy(run.targetParams.busy_poll_us);
  }

  /**
   * The congestion control the engine's sending side uses on a loopback
   * connection (its tcp_congestion: `auto` is reno there, `system` the
   * system default, written ''), so the C floor is paced as the cell is.
   */
  #congestion(cell: CellResult, run: RunContext): string {
    const sender = cell.op === 'READ' ? run.targetParams : run.params;
    const v = sender.tcp_congestion ?? 'auto';
    return v === 'auto' ? 'reno' : v === 'system' ? '' : v;
  }

  #key(name: BaselineName, cell: CellResult, run: RunContext): string {
    const bytes = cell.blockSize * cell.batch;
    switch (name) {
      case 'memcpy':
      case 'net':
        return `${name}:${cell.blockSize}`;
      case 'iperf3':
        return `${name}:${cell.blockSize}:${this.#congestion(cell, run)}`;
      case 'reqresp':
        return `${name}:${cell.op}:${bytes}:${this.#spin(run)}:${this.#congestion(cell, run)}`;
      case 'vmcopy':
        return `${name}:${cell.op}:${cell.blockSize}:${cell.batch}`;
      case 'putflush':
      case 'ucx_perftest':
        return `${name}:${cell.path}:${cell.op}:${cell.blockSize}:${cell.batch}:${cell.depth}`;
    }
  }

  async #measureOne(name: BaselineName, cell: CellResult, run: RunContext): Promise<Measured> {
    const bytes = cell.blockSize * cell.batch;
    switch (name) {
      case 'memcpy':
        return { gbps: coldMemcpyGbps(cell.blockSize) };
      case 'reqresp': {
        const spin = this.#spin(run);
        const cc = this.#congestion(cell, run);
        const r = await requestResponse(cell.op, bytes, spin, cc);
        const note = `${spin ? 'spinning (busy_poll_us is set)' : 'blocking calls'}, ${cc || 'system congestion control'}`;
        return { gbps: r.gbps, avgLatUs: r.meanUs / cell.batch, note };
      }
      case 'vmcopy': {
        const r = await vmCopy(cell.op, cell.blockSize, cell.batch);
        return { gbps: r.gbps, avgLatUs: r.meanUs / cell.batch };
      }
      case 'putflush':
        return this.#putFlush(cell, run);
      case 'net': {
        const { port } = await this.#control.request<{ port: number }>('net-sink');
        return { gbps: await netStreamGbps(this.#host, port, cell.blockSize, streamBytes(cell)) };
      }
      case 'iperf3': {
        const { port } = await this.#control.request<{ port: number }>('iperf3-server');
        const cc = this.#congestion(cell, run);
        const gbps = await iperf3Gbps(this.#host, port, cell.blockSize, streamBytes(cell), cc);
        const notes = [cc || 'system congestion control'];
        if (cell.blockSize > IPERF3_MAX_WRITE) notes.push('iperf3 writes at most 1 MiB at a time');
        return { gbps, note: notes.join(', ') };
      }
      case 'ucx_perftest':
        return this.#ucxPerftest(cell, run);
    }
  }

  /** UCX_TLS of a UCX run: its transports (a profile's list), else UCX's own choice. */
  #tls(run: RunContext): string {
    const p = run.params;
    const tls = ucxParam(p, 'transports', 'ucx_tls');
    if (tls) return tls;
    const profile = ucxParam(p, 'profile');
    return profile === 'tcp' ? 'tcp' : profile === 'shm' ? 'posix,sysv,cma,tcp' : 'all';
  }

  async #putFlush(cell: CellResult, run: RunContext): Promise<Measured> {
    const p = run.params;
    const mode = ucxParam(p, 'errorHandling', 'error_handling', 'ucx_error_handling_mode');
    const config = (ucxParam(p, 'config', 'engine_config') ?? '').split(',').filter(Boolean);
    const r = await putFlush({
      op: cell.op,
      blockSize: cell.blockSize,
      batch: cell.batch,
      window: cell.depth,
      ms: 300,
      // nixl-ts's 'process' and 'none' both make endpoints without UCX error handling.
      peerErrors: (mode ?? 'peer') === 'peer',
      tls: this.#tls(run),
      config,
    });
    return { gbps: r.gbps, avgLatUs: r.meanUs / cell.batch };
  }

  async #ucxPerftest(cell: CellResult, run: RunContext): Promise<Measured> {
    const tls = ucxParam(run.params, 'transports', 'ucx_tls', 'profile')
      ? this.#tls(run)
      : this.#ucxTls;
    const iterations = Math.max(
      4,
      Math.min(cell.plannedIterations, Math.floor(UCX_MAX_BYTES / cell.blockSize)),
    );
    const warmup = Math.min(100, Math.max(1, Math.floor(iterations / 10)));
    // The server sometimes is not listening yet; one retry with a fresh server.
    let lastErr: unknown;
    for (let attempt = 0; attempt < 2; attempt++) {
      const { port } = await this.#control.request<{ port: number }>('ucx-server', { tls });
      try {
        const r = await ucxPerftest(
          this.#host,
          port,
          cell.op,
          cell.blockSize,
          iterations,
          warmup,
          tls,
          this.#loopback,
        );
        return { gbps: r.gbps, note: `UCX_TLS=${tls}` };
      } catch (err) {
        lastErr = err;
      }
    }
    throw lastErr;
  }
}
