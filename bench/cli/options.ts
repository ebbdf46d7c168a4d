import { parseArgs } from 'node:util';

import { DEFAULT_WAIT_SPIN_US } from '../../src/agent.js';
import { fromNixlbenchFlags } from './nixlbench-flags.js';
import { expandPresets, PRESETS } from './presets.js';
import { doublings, formatBytes, parseBytes } from './sizes.js';
import { UsageError } from './usage-error.js';

export { UsageError };

export type Op = 'READ' | 'WRITE';
/** TCP's two data paths: frames over a TCP socket, or same-host copies (process_vm_readv/writev). */
export type TcpPath = 'socket' | 'same-host';
export const TCP_PATHS: readonly TcpPath[] = ['socket', 'same-host'];
/** How the timed loop waits for a transfer: polling getXferStatus (nixlbench's way) or awaiting it. */
export type WaitMode = 'poll' | 'await';
/** Same host: the target's memory from the TCP backend's alloc (mapped) or plain memory. */
export type TargetMemory = 'backend' | 'plain';

export type BaselineName =
  'iperf3' | 'reqresp' | 'memcpy' | 'vmcopy' | 'putflush' | 'ucx_perftest' | 'net';
export const BASELINES: readonly BaselineName[] = [
  'iperf3',
  'reqresp',
  'memcpy',
  'vmcopy',
  'putflush',
  'ucx_perftest',
  'net',
];
/**
 * What --baseline measures: each path's own floor. ucx_perftest (streams puts,
 * completes nothing per message) and net (Node's own sockets) measure
 * something else and run only when named in --baselines.
 */
export const FLOOR_BASELINES: readonly BaselineName[] = [
  'iperf3',
  'reqresp',
  'memcpy',
  'vmcopy',
  'putflush',
];

/** One cell's shape: `batch` descriptors of `blockSize` bytes per transfer. */
export interface CellShape {
  blockSize: number;
  batch: number;
}

/** Cells the default sweep adds to its batch-1 sizes: small blocks in NIXL-sized batches. */
const DEFAULT_EXTRA_CELLS = '4Kx16,4Kx256';

/** What one sweep does; sent to the target too, so both sides lay memory out alike. */
export interface SweepConfig {
  /** Backend plugin names; empty = the default (TCP if present, else every remote-capable one). */
  backends: string[];
  ops: Op[];
  /** TCP only: the paths to run (one initiator agent each). */
  paths: TcpPath[];
  /** The grid's block sizes and batch sizes. */
  blockSizes: number[];
  batchSizes: number[];
  /** Every cell: the grid, then the extra cells (--cells), sorted by batch then block. */
  cells: CellShape[];
  wait: WaitMode;
  /** --target-memory: what the same-host target registers (TCP). */
  targetMemory: TargetMemory;
  /** The initiator agent's waitSpinUs (how long an awaited request may poll first). */
  waitSpinUs: number;
  iterations: number;
  warmup: number;
  /**
   * The first cell an initiator process times also warms up for at least
   * this long (ms), for a JIT runtime that may still compile the loop's code
   * on background threads (which compete for the CPUs) after 100 iterations.
   */
  warmupMs: number;
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
  /** 'etcd': the role (initiator or target) comes from the rank claimed in etcd. */
  mode: 'local' | 'initiator' | 'target' | 'etcd';
  /** Target mode: where to listen. Initiator mode: where the target is. etcd mode: this process's address. */
  host: string;
  port: number;
  /** Target mode: exit after one initiator session. */
  once: boolean;
  /** etcd mode: the endpoints and the benchmark group (nixlbench's --etcd_endpoints, --benchmark_group). */
  etcd?: { endpoints: string[]; group: string };
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

export const HELP = `nixl-ts-bench: one-sided READ/WRITE throughput and latency between two processes,
with the machine's own limits measured in the same run.

Usage:
  nixl-ts-bench [options]                              both sides on this host (127.0.0.1)
  nixl-ts-bench --target-listen ADDR:PORT [--once]     the target side, on host A
  nixl-ts-bench --initiator --target ADDR:PORT [opts]  the initiator side, on host B

The default sweep: WRITE, blocks 4K..16M at batch 1, and 4K blocks in batches of 16 and 256,
over TCP's socket path and its same-host path; each cell is timed as nixlbench times it (post,
then poll getXferStatus until DONE).

Sweep:
  --preset NAME           a named sweep (options after it override it): ${Object.keys(PRESETS).join(', ')}
  --backend LIST          backend plugins (comma-separated, or 'all'); default TCP if present
  --path LIST             TCP's paths: socket, same-host or both (default both; --param
                          same_host=off alone means socket, same_host=auto same-host)
  --op LIST               READ, WRITE or READ,WRITE (default WRITE)
  --start-block SIZE      first block size (default 4K); sizes double up to --max-block
  --max-block SIZE        last block size (default 16M)
  --block LIST            block sizes, e.g. 4K,64K,1M (instead of --start-block/--max-block)
  --batch LIST            batch sizes, e.g. 1,8,64 (default 1)
  --start-batch N --max-batch N   batch sizes doubling from N to N (instead of --batch)
  --cells LIST            extra cells BLOCKxBATCH, e.g. 4Kx16,4Kx256 (the default sweep's)
  --wait poll|await       poll: post, then read getXferStatus in a loop until DONE (nixlbench's
                          way, the default); await: post, then await req.wait()
  --target-memory backend|plain   same-host TCP cells: the target registers memory from the TCP
                          backend's alloc (a peer maps it: shared memory; the default) or plain
                          memory (READs pulled by the initiator under a pull grant, WRITEs copied
                          by the target)
  --wait-spin-us N        the initiator agent's waitSpinUs: how long wait() may poll a fast
                          request before it awaits the completion event (default 100; 0: never)
  --iters N               timed iterations per cell (default 1000)
  --warmup N              warm-up iterations per cell (default 100)
  --warmup-ms MS          the first cell of the process also warms up for at least MS ms, until V8
                          has compiled the timed loop (default 300; 0: iterations only)
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

Baselines and comparisons (same run, ratios per cell; each path against its own floor):
  --baseline              each path's floors: socket cells iperf3 and reqresp (a C request/response
                          loop over loopback TCP; spinning with busy_poll_us); same-host cells memcpy
                          (cold: over an area larger than the last-level cache) and vmcopy (a C
                          process_vm_writev/readv loop); UCX cells putflush (a C put/get + flush loop)
  --baselines LIST        only these (implies --baseline); also ucx_perftest (UCX cells: streamed
                          puts, no completion per message) and net (socket cells: a Node stream)
  --ucx-tls TLS           UCX_TLS of --compare nixlbench, and of ucx_perftest when the UCX
                          backend names no transports (default tcp)
  --compare nixlbench=PATH   run an installed nixlbench over the same sweep (ASIO runtime, no etcd)
  --nixlbench-backend B   nixlbench's --backend (default UCX)

Output:
  --json                  print the results as JSON on stdout (tables go to stderr)
  --out DIR               where nixl-ts-bench.json and nixl-ts-bench.svg go (default bench/results)
  --no-progress           no progress bar (it is drawn only on a terminal anyway)

nixlbench's flag names are accepted too: --op_type, --start_block_size, --max_block_size,
--start_batch_size, --max_batch_size, --num_iter, --warmup_iter, --large_blk_iter_ftr,
--total_buffer_size, --pipeline_depth, --check_consistency, --recreate_xfer (and, at their
defaults only, --initiator_seg_type/--target_seg_type DRAM, --scheme pairwise, --mode SG,
--num_threads 1, --num_initiator_dev 1, --num_target_dev 1, --worker_type nixl),
--etcd_endpoints, --benchmark_group.

Two hosts:
  --target-listen ADDR:PORT   serve as the target (control socket on ADDR:PORT, 0 = any port)
  --once                      with --target-listen: exit after one initiator
  --initiator --target ADDR:PORT   run the sweep against that target
  --etcd-endpoints URL[,URL]  nixlbench's etcd runtime: run the same command on both hosts; each
                              claims a rank in etcd (the first is the initiator, the second the
                              target) and the run's control messages go through etcd (credentials
                              and TLS from NIXL_ETCD_USERNAME/PASSWORD, NIXL_ETCD_CA/CERT/KEY_FILE)
  --benchmark-group NAME      with --etcd-endpoints: the runs that pair up (default 'default')
  --address ADDR              with --etcd-endpoints: this host's address, where its backend listens
                              (default 127.0.0.1)

Testing:
  --corrupt-target-byte N  flip byte N of the target's memory between the transfers and the
                           check (WRITE: after the transfers; READ: before them), so a run with
                           --check must fail; proves the check catches a corrupted transfer
`;

/**
 * --warmup-ms: how long the first cell of a process warms up at least. V8
 * compiles the timed loop and the agent's status reads with its optimizing
 * compiler within about 300 ms of polling; a cell timed before that took
 * 1.5-3x as long (bench/cli/results/2026-12-socket-write-mid/).
 */
export const DEFAULT_WARMUP_MS = 300;

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
      args: fromNixlbenchFlags(expandPresets(argv)),
      allowPositionals: false,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        backend: { type: 'string' },
        op: { type: 'string' },
        'start-block': { type: 'string' },
        'max-block': { type: 'string' },
        block: { type: 'string' },
        batch: { type: 'string' },
        cells: { type: 'string' },
        path: { type: 'string' },
        wait: { type: 'string' },
        'target-memory': { type: 'string' },
        'start-batch': { type: 'string' },
        'max-batch': { type: 'string' },
        iters: { type: 'string' },
        'wait-spin-us': { type: 'string' },
        warmup: { type: 'string' },
        'warmup-ms': { type: 'string' },
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
        'etcd-endpoints': { type: 'string' },
        'benchmark-group': { type: 'string' },
        address: { type: 'string' },
      },
    });
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';

  const ops = list(v.op ?? 'WRITE').map((o) => o.toUpperCase());
  for (const o of ops) {
    if (o !== 'READ' && o !== 'WRITE') throw new UsageError(`--op: '${o}' is not READ or WRITE`);
  }
  if (ops.length === 0) throw new UsageError('--op: give READ, WRITE or both');

  let blockSizes: number[];
  if (v.block !== undefined) {
    if (v['start-block'] !== undefined || v['max-block'] !== undefined) {
      throw new UsageError('give either --block or --start-block/--max-block, not both');
    }
    blockSizes = sortedUnique(list(v.block).map((b) => bytesOpt('block', b, 0)));
    if (blockSizes.length === 0) throw new UsageError('--block: give at least one block size');
  } else {
    const startBlock = bytesOpt('start-block', v['start-block'], 4096);
    const maxBlock = bytesOpt('max-block', v['max-block'], 16 * 1024 * 1024);
    if (maxBlock < startBlock) {
      throw new UsageError(
        `--max-block ${formatBytes(maxBlock)} is below --start-block ${formatBytes(startBlock)}`,
      );
    }
    blockSizes = doublings(startBlock, maxBlock);
  }

  let batchSizes: number[];
  if (v.batch !== undefined) {
    if (v['start-batch'] !== undefined || v['max-batch'] !== undefined) {
      throw new UsageError('give either --batch or --start-batch/--max-batch, not both');
    }
    batchSizes = sortedUnique(list(v.batch).map((b) => positiveInt('batch', b, 1)));
    if (batchSizes.length === 0) throw new UsageError('--batch: give at least one batch size');
  } else {
    const start = positiveInt('start-batch', v['start-batch'], 1);
    const max = positiveInt('max-batch', v['max-batch'], start);
    if (max < start) throw new UsageError('--max-batch is below --start-batch');
    batchSizes = doublings(start, max);
  }

  // The default sweep (no size given at all) adds small blocks in batches.
  const sized = ['block', 'start-block', 'max-block', 'batch', 'start-batch', 'max-batch'].some(
    (k) => v[k as keyof typeof v] !== undefined,
  );
  const extra = parseCells(v.cells ?? (sized ? '' : DEFAULT_EXTRA_CELLS));
  const cells = planShapes(blockSizes, batchSizes, extra);

  let wait: WaitMode = 'poll';
  if (v.wait !== undefined) {
    if (v.wait !== 'poll' && v.wait !== 'await') {
      throw new UsageError(`--wait: '${v.wait}' is not poll or await`);
    }
    wait = v.wait;
  }
  const targetMemory = v['target-memory'] ?? 'backend';
  if (targetMemory !== 'backend' && targetMemory !== 'plain') {
    throw new UsageError(`--target-memory: '${targetMemory}' is not backend or plain`);
  }

  const maxCellSeconds = Number(v['max-cell-seconds'] ?? '2');
  if (!(maxCellSeconds > 0)) throw new UsageError('--max-cell-seconds must be positive');

  const params = keyValues('param', v.param);
  const initiatorParams = keyValues('initiator-param', v['initiator-param']);
  const paths = choosePaths(v.path, initiatorParams.same_host ?? params.same_host);

  let baselines: BaselineName[] = [];
  if (v.baselines !== undefined) {
    baselines = list(v.baselines) as BaselineName[];
    for (const b of baselines) {
      if (!BASELINES.includes(b)) {
        throw new UsageError(`--baselines: unknown '${b}'; known: ${BASELINES.join(', ')}`);
      }
    }
  } else if (v.baseline) {
    baselines = [...FLOOR_BASELINES];
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
  let etcd: CliOptions['etcd'];
  if (v['etcd-endpoints'] !== undefined) {
    if (mode !== 'local') {
      throw new UsageError(
        '--etcd-endpoints decides the roles through etcd: it takes no --target-listen/--initiator/--target',
      );
    }
    const endpoints = list(v['etcd-endpoints']);
    if (endpoints.length === 0) throw new UsageError('--etcd-endpoints: give at least one URL');
    const group = v['benchmark-group'] ?? 'default';
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(group)) {
      throw new UsageError(`--benchmark-group wants [A-Za-z0-9._-]{1,64}, got '${group}'`);
    }
    mode = 'etcd';
    etcd = { endpoints, group };
    host = v.address ?? '127.0.0.1';
  } else if (v['benchmark-group'] !== undefined || v.address !== undefined) {
    throw new UsageError('--benchmark-group and --address go with --etcd-endpoints');
  }

  let corruptTargetByte: number | undefined;
  if (v['corrupt-target-byte'] !== undefined) {
    corruptTargetByte = positiveInt('corrupt-target-byte', v['corrupt-target-byte'], 0, 0);
    if (corruptTargetByte >= cells[0]!.blockSize) {
      throw new UsageError('--corrupt-target-byte must fall inside the first block');
    }
  }

  const sweep: SweepConfig = {
    backends: v.backend === undefined ? [] : list(v.backend),
    ops: ops as Op[],
    paths,
    blockSizes,
    batchSizes,
    cells,
    wait,
    targetMemory,
    waitSpinUs: positiveInt('wait-spin-us', v['wait-spin-us'], DEFAULT_WAIT_SPIN_US, 0),
    iterations: positiveInt('iters', v.iters, 1000),
    warmup: positiveInt('warmup', v.warmup, 100, 0),
    warmupMs: positiveInt('warmup-ms', v['warmup-ms'], DEFAULT_WARMUP_MS, 0),
    largeBlockFactor: positiveInt('large-block-factor', v['large-block-factor'], 16),
    maxCellSeconds,
    prepared: v.prepared ?? false,
    recreate: v.recreate ?? false,
    skipDescMerge: v['skip-desc-merge'] ?? false,
    depth: positiveInt('depth', v.depth, 1),
    check: v.check ?? false,
    params,
    initiatorParams,
    targetParams: keyValues('target-param', v['target-param']),
    totalBuffer: bytesOpt('total-buffer', v['total-buffer'], 1024 ** 3),
    cellTimeoutSeconds: positiveInt('cell-timeout', v['cell-timeout'], 120),
    corruptTargetByte,
  };
  if (mode !== 'target' && regionBytes(sweep) > sweep.totalBuffer) {
    throw new UsageError(
      `the sweep needs ${formatBytes(regionBytes(sweep))} per side (largest block × batch × depth), over --total-buffer ${formatBytes(sweep.totalBuffer)}`,
    );
  }

  return {
    mode,
    host,
    port,
    once: v.once ?? false,
    etcd,
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
export function regionBytes(s: Pick<SweepConfig, 'cells' | 'depth'>): number {
  return Math.max(...s.cells.map((c) => c.blockSize * c.batch)) * s.depth;
}

function sortedUnique(xs: number[]): number[] {
  return [...new Set(xs)].sort((a, b) => a - b);
}

/** "4Kx16,1Mx64" → shapes. */
export function parseCells(text: string): CellShape[] {
  return list(text).map((item) => {
    const m = /^([^x*]+)[x*](\d+)$/i.exec(item);
    const blockSize = m ? parseBytes(m[1]!) : undefined;
    const batch = m ? Number(m[2]) : 0;
    if (!blockSize || !(batch >= 1)) {
      throw new UsageError(`--cells wants BLOCKxBATCH items such as 4Kx16, got '${item}'`);
    }
    return { blockSize, batch };
  });
}

/** The grid of block sizes × batch sizes and the extra cells, without repeats, by batch then block. */
export function planShapes(blocks: number[], batches: number[], extra: CellShape[]): CellShape[] {
  const seen = new Map<string, CellShape>();
  for (const batch of batches) {
    for (const blockSize of blocks) seen.set(`${blockSize}x${batch}`, { blockSize, batch });
  }
  for (const c of extra) seen.set(`${c.blockSize}x${c.batch}`, c);
  return [...seen.values()].sort((a, b) => a.batch - b.batch || a.blockSize - b.blockSize);
}

/**
 * TCP's paths: those named, or the one a same_host param forces, or both.
 * (Each path's run sets the initiator's same_host itself.)
 */
function choosePaths(text: string | undefined, sameHost: string | undefined): TcpPath[] {
  if (text === undefined) {
    if (sameHost === 'off') return ['socket'];
    if (sameHost === 'auto') return ['same-host'];
    return [...TCP_PATHS];
  }
  const paths = list(text) as TcpPath[];
  for (const p of paths) {
    if (!TCP_PATHS.includes(p)) {
      throw new UsageError(`--path: '${p}' is not ${TCP_PATHS.join(' or ')}`);
    }
  }
  if (paths.length === 0) throw new UsageError('--path: give socket, same-host or both');
  return [...new Set(paths)];
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
