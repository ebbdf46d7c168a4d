import type { ControlClient } from '../control.js';
import type { BaselineName, Op } from '../options.js';
import type { CellResult, Reference } from '../results.js';
import { IPERF3_MAX_WRITE, iperf3Gbps } from './iperf3.js';
import { memcpyGbps } from './memcpy.js';
import { netStreamGbps } from './net-stream.js';
import { ucxPerftest } from './ucx-perftest.js';

const MIB = 1024 * 1024;

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

/**
 * Measures the machine's references right after each run of a cell
 * (interleaved, so both see the same load) and attaches them with the cell's
 * ratio to each. A reference that depends only on the block size is measured
 * once per size; with --repeat, its median is kept.
 */
export class BaselineRunner {
  readonly #control: ControlClient;
  readonly #host: string;
  readonly #loopback: boolean;
  readonly #ucxTls: string;
  readonly #enabled: BaselineName[];
  readonly #cache = new Map<string, Measured>();
  readonly notes: string[] = [];

  constructor(opts: {
    control: ControlClient;
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
      if (b !== 'iperf3' && b !== 'ucx_perftest') return true;
      const ok = opts.targetTools[b] && opts.localTools[b];
      if (!ok)
        this.notes.push(
          `${b} is not installed on ${opts.localTools[b] ? 'the target host' : 'this host'}: its column is left out`,
        );
      return ok;
    });
  }

  get enabled(): readonly BaselineName[] {
    return this.#enabled;
  }

  /**
   * Measures each reference once for the cell just run (those already known
   * for its block size are skipped) and adds the results to samples.
   */
  async sample(cell: CellResult, samples: Map<BaselineName, Measured[]>): Promise<void> {
    for (const name of this.#enabled) {
      if (this.#cache.has(this.#key(name, cell))) continue;
      let m: Measured;
      try {
        m = await this.#measureOne(name, cell);
      } catch (err) {
        m = { gbps: NaN, note: `failed: ${(err as Error).message}` };
      }
      samples.set(name, [...(samples.get(name) ?? []), m]);
    }
  }

  /** Attaches each reference (the median of its samples) to the cell, with the cell's ratio. */
  attach(cell: CellResult, samples: Map<BaselineName, Measured[]>): void {
    for (const name of this.#enabled) {
      const key = this.#key(name, cell);
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

  #key(name: BaselineName, cell: CellResult): string {
    switch (name) {
      case 'memcpy':
        return `memcpy:${cell.blockSize}:${cell.batch}`;
      case 'ucx_perftest':
        return `ucx:${cell.blockSize}:${cell.op}`;
      default:
        return `${name}:${cell.blockSize}`;
    }
  }

  async #measureOne(name: BaselineName, cell: CellResult): Promise<Measured> {
    switch (name) {
      case 'memcpy':
        return { gbps: memcpyGbps(cell.blockSize, cell.batch) };
      case 'net': {
        const { port } = await this.#control.request<{ port: number }>('net-sink');
        return { gbps: await netStreamGbps(this.#host, port, cell.blockSize, streamBytes(cell)) };
      }
      case 'iperf3': {
        const { port } = await this.#control.request<{ port: number }>('iperf3-server');
        const gbps = await iperf3Gbps(this.#host, port, cell.blockSize, streamBytes(cell));
        return cell.blockSize > IPERF3_MAX_WRITE
          ? { gbps, note: 'iperf3 writes at most 1 MiB at a time' }
          : { gbps };
      }
      case 'ucx_perftest':
        return this.#ucx(cell.op, cell);
    }
  }

  async #ucx(op: Op, cell: CellResult): Promise<Measured> {
    const iterations = Math.max(
      4,
      Math.min(cell.plannedIterations, Math.floor(UCX_MAX_BYTES / cell.blockSize)),
    );
    const warmup = Math.min(100, Math.max(1, Math.floor(iterations / 10)));
    // The server sometimes is not listening yet; one retry with a fresh server.
    let lastErr: unknown;
    for (let attempt = 0; attempt < 2; attempt++) {
      const { port } = await this.#control.request<{ port: number }>('ucx-server', {
        tls: this.#ucxTls,
      });
      try {
        const r = await ucxPerftest(
          this.#host,
          port,
          op,
          cell.blockSize,
          iterations,
          warmup,
          this.#ucxTls,
          this.#loopback,
        );
        return {
          gbps: r.gbps,
          note: `UCX_TLS=${this.#ucxTls}, ${op === 'WRITE' ? 'ucp_put_bw' : 'ucp_get'}, no batching`,
        };
      } catch (err) {
        lastErr = err;
      }
    }
    throw lastErr;
  }
}
