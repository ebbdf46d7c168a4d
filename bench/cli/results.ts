import type { BaselineName, Op, WaitMode } from './options.js';
import type { Summary } from './stats.js';

/** A reference measured next to a cell: its bandwidth and the cell's ratio to it. */
export interface Reference {
  gbps: number;
  /** cell GB/s ÷ reference GB/s */
  ratio: number;
  /** What differs from the cell (e.g. iperf3's 1 MiB write cap), or why it failed. */
  note?: string;
  avgLatUs?: number;
}

export interface CellResult {
  backend: string;
  /**
   * The path the bytes took (path.ts): TCP 'socket' or 'same-host' as the
   * kernel shows the connections, UCX its transports ('UCX tcp').
   */
  path: string;
  /** How the timed loop waited: polling getXferStatus, or awaiting the request. */
  wait: WaitMode;
  /** Poll loop: times it let the event loop run during the timed loop (poll-loop.ts). */
  yields: number;
  op: Op;
  blockSize: number;
  batch: number;
  depth: number;
  iterations: number;
  warmup: number;
  /** How long the warm-up took (ms): the first cell of a process warms up for --warmup-ms at least. */
  warmupMs: number;
  /** Timed iterations planned; fewer ran when the cell hit --max-cell-seconds. */
  plannedIterations: number;
  bytes: number;
  seconds: number;
  gbps: number;
  /** Microseconds per iteration and block, as nixlbench's "Avg Lat." */
  avgLatUs: number;
  prep: Summary;
  post: Summary;
  tx: Summary;
  /** Event-loop utilization of the target process during the timed loop (0..1). */
  targetElu: number;
  check: 'off' | 'passed' | `failed: ${string}`;
  baselines: Partial<Record<BaselineName, Reference>>;
  /** With --repeat: every run's GB/s; the cell shown is the median run. */
  repeats?: number[];
  compare: Partial<Record<'nixlbench', Reference>>;
}

export interface MachineInfo {
  hostname: string;
  cpuModel: string;
  cpus: number;
  memoryGiB: number;
  os: string;
  node: string;
  /** os.loadavg() (1, 5, 15 min) when the run started and when it ended: how shared the machine was. */
  loadAverage: { start: number[]; end: number[] };
}

export interface BenchReport {
  tool: 'nixl-ts-bench';
  version: string;
  startedAt: string;
  finishedAt: string;
  command: string;
  initiator: MachineInfo;
  target: { hostname: string; cpus: number; cpuModel: string; address: string };
  config: Record<string, unknown>;
  cells: CellResult[];
  notes: string[];
}
