import { parseArgs } from 'node:util';

import { doublings, formatBytes, parseBytes } from './sizes.js';

export type Op = 'READ' | 'WRITE';
export type BaselineName = 'memcpy' | 'net' | 'iperf3' | 'ucx_perftest';
export const BASELINES: readonly BaselineName[] = ['memcpy', 'net', 'iperf3', 'ucx_perftest'];

/** What one sweep does; sent to the target too, so both sides lay memory out alike. */
export interface SweepConfig {
  /** Backend plugin names; empty = the default (TCP if present, else every remote-capable one). */
  backends: string[];
  ops: Op[];
  blockSizes: number[];
  batchSizes: number[];
  iterations: number;
  warmup: number;
  /** Blocks over 1 MiB run iterations / largeBlockFactor times (nixlbench's large_blk_iter_ftr). */
  largeBlockFactor: number;
  /** A cell stops early (and says how many iterations it ran) after this long. */
  maxCellSeconds: number;
  /** prepXferDlist + makeXferReq instead of createXferReq. */
  prepared: boolean;
  /** Prepare a new request for every post instead of reposting one per slot. */
  recreate: boolean;
  skipDescMerge: boolean;
  /** Requests in flight. */
  depth: number;
  check: boolean;
  params: Record<string, string>;
  initiatorParams: Record<string, string>;
  targetParams: Record<string, string>;
  /** Refuse to allocate more than this per side. */
  totalBuffer: number;
  cellTimeoutSeconds: number;
  /** Testing hook: flip this byte (offset into the cell's area) of the target's memory. */
  corruptTargetByte: number | undefined;
}

export interface CliOptions {
  mode: 'local' | 'initiator' | 'target';
  /** Target mode: where to listen. Initiator mode: where the target is. */
  host: string;
  port: number;
  /** Target mode: exit after one initiator session. */
  once: boolean;
  sweep: SweepConfig;
  /** Runs per cell (each followed by its references); the median is reported. */
  repeat: number;
  baselines: BaselineName[];
  ucxTls: string;
  compare: { name: 'nixlbench'; path: string }[];
  nixlbenchBackend: string;
  json: boolean;
  outDir: string;
  progress: boolean;
}

export class UsageError extends Error {}

export const HELP = `nixl-ts-bench: one-sided READ/WRITE throughput and latency between two processes,
with the machine's own limits measured in the same run.

Usage:
  nixl-ts-bench [options]                              both sides on this host (127.0.0.1)
  nixl-ts-bench --target-listen ADDR:PORT [--once]     the target side, on host A
  nixl-ts-bench --initiator --target ADDR:PORT [opts]  the initiator side, on host B

Sweep:
  --backend LIST          backend plugins (comma-separated, or 'all'); default TCP if present
  --op LIST               READ, WRITE or READ,WRITE (default WRITE)
  --start-block SIZE      first block size (default 4K); sizes double up to --max-block
  --max-block SIZE        last block size (default 16M)
  --batch LIST            batch sizes, e.g. 1,8,64 (default 1)
  --start-batch N --max-batch N   batch sizes doubling from N to N (instead of --batch)
  --iters N               timed iterations per cell (default 1000)
  --warmup N              warm-up iterations per cell (default 100)
  --large-block-factor N  blocks over 1 MiB run iters/N iterations (default 16)
  --max-cell-seconds S    stop a cell's timed loop after S seconds (default 2)
  --prepared              prepXferDlist + makeXferReq (default: createXferReq)
  --recreate              prepare a new request for every post (default: repost)
  --skip-desc-merge       makeXferReq keeps contiguous descriptors apart
  --depth N               requests in flight (pipeline depth, default 1)
  --check                 consistency check: verify every byte after each cell
  --param K=V             backend parameter for both sides (repeatable)
  --initiator-param K=V   backend parameter for the initiator only
  --target-param K=V      backend parameter for the target only
  --total-buffer SIZE     most memory one side may register (default 1G)
  --cell-timeout S        a cell that has not finished after S seconds fails (default 120)
  --repeat N              run every cell (and its references) N times, report the median run

Baselines and comparisons (same run, ratios per cell):
  --baseline              measure every available baseline: memcpy, net, iperf3, ucx_perftest
  --baselines LIST        only these baselines (implies --baseline)
  --ucx-tls TLS           UCX_TLS for ucx_perftest (default tcp)
  --compare nixlbench=PATH   run an installed nixlbench over the same sweep (ASIO runtime, no etcd)
  --nixlbench-backend B   nixlbench's --backend (default UCX)

Output:
  --json                  print the results as JSON on stdout (tables go to stderr)
  --out DIR               where nixl-ts-bench.json and nixl-ts-bench.svg go (default bench/results)
  --no-progress           no progress bar (it is drawn only on a terminal anyway)

Two hosts:
  --target-listen ADDR:PORT   serve as the target (control socket on ADDR:PORT, 0 = any port)
  --once                      with --target-listen: exit after one initiator
  --initiator --target ADDR:PORT   run the sweep against that target

Testing:
  --corrupt-target-byte N  flip byte N of the target's memory between the transfers and the
                           check (WRITE: after the transfers; READ: before them), so a run with
                           --check must fail; proves the check catches a corrupted transfer
`;

function positiveInt(name: string, text: string | undefined, dflt: number, min = 1): number {
  if (text === undefined) return dflt;
  const v = Number(text);
  if (!Number.isSafeInteger(v) || v < min) {
    throw new UsageError(`--${name} must be an integer >= ${min}, got '${text}'`);
  }
  return v;
}

function bytesOpt(name: string, text: string | undefined, dflt: number): number {
  if (text === undefined) return dflt;
  const v = parseBytes(text);
  if (v === undefined || v < 1) throw new UsageError(`--${name}: '${text}' is not a byte size`);
  return v;
}

function list(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function keyValues(name: string, items: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`--${name} wants KEY=VALUE, got '${item}'`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** "ADDR:PORT", "[v6]:PORT". */
export function parseHostPort(name: string, text: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  if (!m) throw new UsageError(`--${name} wants ADDR:PORT, got '${text}'`);
  const port = Number(m[2]);
  if (port > 65535) throw new UsageError(`--${name}: port ${port} is out of range`);
  return { host: m[1]!, port };
}

export function parseCli(argv: string[]): CliOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        backend: { type: 'string' },
        op: { type: 'string' },
        'start-block': { type: 'string' },
        'max-block': { type: 'string' },
        batch: { type: 'string' },
        'start-batch': { type: 'string' },
        'max-batch': { type: 'string' },
        iters: { type: 'string' },
        warmup: { type: 'string' },
        'large-block-factor': { type: 'string' },
        'max-cell-seconds': { type: 'string' },
        prepared: { type: 'boolean' },
        recreate: { type: 'boolean' },
        'skip-desc-merge': { type: 'boolean' },
        depth: { type: 'string' },
        check: { type: 'boolean' },
        param: { type: 'string', multiple: true },
        'initiator-param': { type: 'string', multiple: true },
        'target-param': { type: 'string', multiple: true },
        'total-buffer': { type: 'string' },
        'cell-timeout': { type: 'string' },
        repeat: { type: 'string' },
        baseline: { type: 'boolean' },
        baselines: { type: 'string' },
        'ucx-tls': { type: 'string' },
        compare: { type: 'string', multiple: true },
        'nixlbench-backend': { type: 'string' },
        json: { type: 'boolean' },
        out: { type: 'string' },
        'no-progress': { type: 'boolean' },
        'target-listen': { type: 'string' },
        once: { type: 'boolean' },
        initiator: { type: 'boolean' },
        target: { type: 'string' },
        'corrupt-target-byte': { type: 'string' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';

  const ops = list(v.op ?? 'WRITE').map((o) => o.toUpperCase());
  for (const o of ops) {
    if (o !== 'READ' && o !== 'WRITE') throw new UsageError(`--op: '${o}' is not READ or WRITE`);
  }
  if (ops.length === 0) throw new UsageError('--op: give READ, WRITE or both');

  const startBlock = bytesOpt('start-block', v['start-block'], 4096);
  const maxBlock = bytesOpt('max-block', v['max-block'], 16 * 1024 * 1024);
  if (maxBlock < startBlock) {
    throw new UsageError(
      `--max-block ${formatBytes(maxBlock)} is below --start-block ${formatBytes(startBlock)}`,
    );
  }

  let batchSizes: number[];
  if (v.batch !== undefined) {
    if (v['start-batch'] !== undefined || v['max-batch'] !== undefined) {
      throw new UsageError('give either --batch or --start-batch/--max-batch, not both');
    }
    batchSizes = list(v.batch).map((b) => positiveInt('batch', b, 1));
    if (batchSizes.length === 0) throw new UsageError('--batch: give at least one batch size');
  } else {
    const start = positiveInt('start-batch', v['start-batch'], 1);
    const max = positiveInt('max-batch', v['max-batch'], start);
    if (max < start) throw new UsageError('--max-batch is below --start-batch');
    batchSizes = doublings(start, max);
  }

  const maxCellSeconds = Number(v['max-cell-seconds'] ?? '2');
  if (!(maxCellSeconds > 0)) throw new UsageError('--max-cell-seconds must be positive');

  let baselines: BaselineName[] = [];
  if (v.baselines !== undefined) {
    baselines = list(v.baselines) as BaselineName[];
    for (const b of baselines) {
      if (!BASELINES.includes(b)) {
        throw new UsageError(`--baselines: unknown '${b}'; known: ${BASELINES.join(', ')}`);
      }
    }
  } else if (v.baseline) {
    baselines = [...BASELINES];
  }

  const compare = (v.compare ?? []).map((c) => {
    const eq = c.indexOf('=');
    const name = eq > 0 ? c.slice(0, eq) : '';
    if (name !== 'nixlbench' || eq === c.length - 1) {
      throw new UsageError(`--compare wants nixlbench=PATH, got '${c}'`);
    }
    return { name: 'nixlbench' as const, path: c.slice(eq + 1) };
  });

  let mode: CliOptions['mode'] = 'local';
  let host = '127.0.0.1';
  let port = 0;
  if (v['target-listen'] !== undefined) {
    if (v.initiator || v.target !== undefined) {
      throw new UsageError('--target-listen is the target side; it takes no --initiator/--target');
    }
    mode = 'target';
    ({ host, port } = parseHostPort('target-listen', v['target-listen']));
  } else if (v.initiator || v.target !== undefined) {
    if (!v.initiator || v.target === undefined) {
      throw new UsageError('the initiator side needs both --initiator and --target ADDR:PORT');
    }
    mode = 'initiator';
    ({ host, port } = parseHostPort('target', v.target));
    if (port === 0) throw new UsageError('--target needs the port the target listens on');
  }
  if (v.once && mode !== 'target') throw new UsageError('--once goes with --target-listen');

  let corruptTargetByte: number | undefined;
  if (v['corrupt-target-byte'] !== undefined) {
    corruptTargetByte = positiveInt('corrupt-target-byte', v['corrupt-target-byte'], 0, 0);
    if (corruptTargetByte >= startBlock) {
      throw new UsageError('--corrupt-target-byte must fall inside the first block');
    }
  }

  const sweep: SweepConfig = {
    backends: v.backend === undefined ? [] : list(v.backend),
    ops: ops as Op[],
    blockSizes: doublings(startBlock, maxBlock),
    batchSizes,
    iterations: positiveInt('iters', v.iters, 1000),
    warmup: positiveInt('warmup', v.warmup, 100, 0),
    largeBlockFactor: positiveInt('large-block-factor', v['large-block-factor'], 16),
    maxCellSeconds,
    prepared: v.prepared ?? false,
    recreate: v.recreate ?? false,
    skipDescMerge: v['skip-desc-merge'] ?? false,
    depth: positiveInt('depth', v.depth, 1),
    check: v.check ?? false,
    params: keyValues('param', v.param),
    initiatorParams: keyValues('initiator-param', v['initiator-param']),
    targetParams: keyValues('target-param', v['target-param']),
    totalBuffer: bytesOpt('total-buffer', v['total-buffer'], 1024 ** 3),
    cellTimeoutSeconds: positiveInt('cell-timeout', v['cell-timeout'], 120),
    corruptTargetByte,
  };
  if (mode !== 'target' && regionBytes(sweep) > sweep.totalBuffer) {
    throw new UsageError(
      `the sweep needs ${formatBytes(regionBytes(sweep))} per side (max block × max batch × depth), over --total-buffer ${formatBytes(sweep.totalBuffer)}`,
    );
  }

  return {
    mode,
    host,
    port,
    once: v.once ?? false,
    sweep,
    repeat: positiveInt('repeat', v.repeat, 1),
    baselines,
    ucxTls: v['ucx-tls'] ?? 'tcp',
    compare,
    nixlbenchBackend: v['nixlbench-backend'] ?? 'UCX',
    json: v.json ?? false,
    outDir: v.out ?? 'bench/results',
    progress: !(v['no-progress'] ?? false),
  };
}

/** Bytes one side registers for a sweep: the largest cell's blocks for every slot in flight. */
export function regionBytes(s: SweepConfig): number {
  return Math.max(...s.blockSizes) * Math.max(...s.batchSizes) * s.depth;
}

/** Timed iterations of a cell (nixlbench's large-block rule). */
export function cellIterations(s: SweepConfig, blockSize: number): number {
  return blockSize > 1024 * 1024
    ? Math.max(1, Math.floor(s.iterations / s.largeBlockFactor))
    : s.iterations;
}

export function cellWarmup(s: SweepConfig, blockSize: number): number {
  return blockSize > 1024 * 1024 ? Math.floor(s.warmup / s.largeBlockFactor) : s.warmup;
}
