import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, hostname, loadavg, release, totalmem, type } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import { Agent } from '../../src/index.js';
import { aboutBaseline, BaselineRunner, type Measured } from './baselines/index.js';
import { compareNixlbench } from './compare-nixlbench.js';
import { ControlClient, type Control } from './control.js';
import { EtcdControlClient, EtcdRuntime } from './etcd-runtime.js';
import { BackendRun, planCells, planRuns } from './initiator.js';
import { LocalTarget } from './local-target.js';
import { isLoopback } from './loopback.js';
import {
  BASELINES,
  HELP,
  parseCli,
  UsageError,
  type BaselineName,
  type CliOptions,
  type WaitMode,
} from './options.js';
import { YIELD_AFTER_MS } from './poll-loop.js';
import { ProgressBar } from './progress.js';
import type { BenchReport, CellResult, MachineInfo } from './results.js';
import { formatBytes } from './sizes.js';
import { renderChart } from './svg-chart.js';
import { cellTable, referenceNotes, referenceTable } from './table.js';
import { hasTool } from './tools.js';
import { runEtcdTarget, runTarget } from './target.js';

/** Exit codes: 0 ok, 1 error, 2 usage, 3 a consistency check failed. */
const EXIT_CHECK_FAILED = 3;

function packageVersion(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../..', '../../..']) {
    try {
      return JSON.parse(readFileSync(join(here, up, 'package.json'), 'utf8')).version;
    } catch {
      // try the next level (dist/ is one deeper)
    }
  }
  return 'unknown';
}

function machine(loadAtStart: number[]): MachineInfo {
  return {
    hostname: hostname(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cpus: cpus().length,
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    os: `${type()} ${release()}`,
    node: process.version,
    loadAverage: { start: loadAtStart, end: loadavg() },
  };
}

function connectControl(host: string, port: number): Promise<ControlClient> {
  return new Promise((resolvePromise, reject) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no target answered on ${host}:${port} within 10 s`));
    }, 10_000);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolvePromise(new ControlClient(socket));
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot reach the target at ${host}:${port}: ${err.message}`));
    });
  });
}

/** The backends to run: those named, or TCP, or else every remote-capable one here. */
async function chooseBackends(wanted: string[]): Promise<string[]> {
  const probe = await Agent.create({ name: 'nixl-ts-bench-probe' });
  try {
    const avail = probe.getAvailPlugins();
    const remote: string[] = [];
    for (const name of avail) {
      try {
        const b = await probe.createBackend(name, {});
        if (b.capabilities.remote) remote.push(name);
      } catch {
        // a plugin that cannot start here is not a candidate
      }
    }
    if (wanted.length === 1 && wanted[0]!.toLowerCase() === 'all') wanted = remote;
    if (wanted.length === 0) wanted = remote.includes('TCP') ? ['TCP'] : remote;
    if (wanted.length === 0) {
      throw new UsageError(
        `no remote-capable backend is available here (plugins: ${avail.join(', ') || 'none'})`,
      );
    }
    for (const w of wanted) {
      if (!remote.includes(w)) {
        throw new UsageError(
          `backend '${w}' is not available as a remote-capable backend here; available: ${remote.join(', ') || 'none'}`,
        );
      }
    }
    return wanted;
  } finally {
    await probe.close();
  }
}

/**
 * The run of a cell with the median bandwidth (the lower middle for an even
 * count), with every run's GB/s kept; a failed check in any run fails the cell.
 */
function medianRun(runs: CellResult[]): CellResult {
  const sorted = [...runs].sort((a, b) => a.gbps - b.gbps);
  const cell = sorted[(sorted.length - 1) >> 1]!;
  if (runs.length > 1) cell.repeats = runs.map((r) => r.gbps);
  cell.check = runs.find((r) => r.check.startsWith('failed'))?.check ?? cell.check;
  return cell;
}

function log(opts: CliOptions, text: string): void {
  // With --json, stdout is for the JSON alone.
  (opts.json ? process.stderr : process.stdout).write(text + '\n');
}

async function runInitiator(
  opts: CliOptions,
  backends: string[],
  host: string,
  port: number,
  /** The control channel (default: a socket to host:port) and how the report names the target's address. */
  channel: { control: Control; address: string } | undefined = undefined,
): Promise<number> {
  const startedAt = new Date().toISOString();
  const t0Run = performance.now();
  const loadAtStart = loadavg();
  const sweep = opts.sweep;
  const control = channel?.control ?? (await connectControl(host, port));
  const notes: string[] = [];
  const cells: CellResult[] = [];
  let exitCode = 0;
  try {
    const hello = await control.request<{
      hostname: string;
      cpus: number;
      cpuModel: string;
      tools: { iperf3: boolean; ucx_perftest: boolean };
    }>('hello', { sweep });
    const baselines = new BaselineRunner({
      control,
      host,
      loopback: isLoopback(host),
      ucxTls: opts.ucxTls,
      wanted: opts.baselines,
      targetTools: hello.tools,
      localTools: { iperf3: hasTool('iperf3'), ucx_perftest: hasTool('ucx_perftest') },
    });
    notes.push(...baselines.notes);

    const plan = planCells(sweep);
    const runs = planRuns(backends, sweep);
    let transferMs = 0;
    let baselineMs = 0;
    const progress = new ProgressBar(plan.length * runs.length, opts.progress);
    try {
      for (const spec of runs) {
        const run = await BackendRun.open(spec, control, sweep, isLoopback(host));
        const context = {
          params: run.params,
          targetParams: { ...sweep.params, ...sweep.targetParams },
        };
        try {
          for (const p of plan) {
            const label = `${spec.backend}${spec.tcpPath ? ` ${spec.tcpPath}` : ''} ${p.op} ${formatBytes(p.blockSize)} x${p.batch}`;
            const repeats: CellResult[] = [];
            const refSamples = new Map<BaselineName, Measured[]>();
            for (let r = 0; r < opts.repeat; r++) {
              const of = opts.repeat > 1 ? ` (${r + 1}/${opts.repeat})` : '';
              progress.show(label + of);
              let t0 = performance.now();
              repeats.push(await run.runCell(p));
              transferMs += performance.now() - t0;
              if (baselines.forCell(repeats[r]!).length) {
                progress.show(`${label}${of}: baselines`);
                t0 = performance.now();
                await baselines.sample(repeats[r]!, context, refSamples);
                baselineMs += performance.now() - t0;
              }
            }
            const cell = medianRun(repeats);
            baselines.attach(cell, context, refSamples);
            cells.push(cell);
            progress.tick();
          }
        } finally {
          await run.close();
        }
      }
    } finally {
      progress.clear();
    }
    await control.request('bye').catch(() => {});

    for (const c of opts.compare) {
      log(opts, `running ${c.name} (${c.path}) over the same sweep...`);
      notes.push(
        ...(await compareNixlbench(c.path, sweep, cells, {
          backend: opts.nixlbenchBackend,
          ucxTls: opts.ucxTls,
        })),
      );
    }

    notes.push(
      `took ${((performance.now() - t0Run) / 1000).toFixed(0)} s: ${(transferMs / 1000).toFixed(0)} s in the cells (warm-up, timed loop, checks), ${(baselineMs / 1000).toFixed(0)} s measuring references`,
    );
    const failed = cells.filter((c) => c.check.startsWith('failed'));
    if (failed.length) exitCode = EXIT_CHECK_FAILED;
    for (const c of cells) {
      if (c.iterations < c.plannedIterations) {
        notes.push(
          `${c.backend} ${c.op} ${formatBytes(c.blockSize)}x${c.batch}: ${c.iterations} of ${c.plannedIterations} iterations (--max-cell-seconds ${sweep.maxCellSeconds})`,
        );
      }
    }

    const report: BenchReport = {
      tool: 'nixl-ts-bench',
      version: packageVersion(),
      startedAt,
      finishedAt: new Date().toISOString(),
      command: `nixl-ts-bench ${process.argv.slice(2).join(' ')}`.trim(),
      initiator: machine(loadAtStart),
      target: {
        hostname: hello.hostname,
        cpus: hello.cpus,
        cpuModel: hello.cpuModel,
        address: channel?.address ?? `${host}:${port}`,
      },
      config: {
        ...sweep,
        repeat: opts.repeat,
        baselines: baselines.enabled,
        ucxTls: opts.ucxTls,
        compare: opts.compare,
      },
      cells,
      notes,
    };
    printReport(opts, report);
    for (const c of failed) {
      process.stderr.write(
        `consistency check FAILED: ${c.backend} ${c.op} block ${c.blockSize} batch ${c.batch}: ${c.check.slice('failed: '.length)}\n`,
      );
    }
    writeOutputs(opts, report);
  } finally {
    control.close();
  }
  return exitCode;
}

/** How each timed loop waits, for the tables' headings. */
const WAIT_TEXT: Record<WaitMode, string> = {
  poll: `post then poll getXferStatus until DONE (a yield to the event loop after ${YIELD_AFTER_MS} ms without a completion)`,
  await: 'post then await req.wait()',
};

/** A path as the heading of its table. */
function pathText(path: string): string {
  if (path === 'socket') return 'socket path (TCP connections)';
  if (path === 'same-host') return 'same-host path (Unix socket, process_vm copies from 16 KiB)';
  if (path === 'shm') return "shared memory (the target's memory mapped here: one memcpy per post)";
  if (path === 'shm+same-host')
    return 'shared memory for some posts, the same-host path for others';
  return `path ${path}`;
}

function printReport(opts: CliOptions, r: BenchReport): void {
  const m = r.initiator;
  log(
    opts,
    `\nnixl-ts-bench ${r.version} on ${m.hostname} (${m.cpus} x ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node.slice(1)}); target ${r.target.hostname} at ${r.target.address}; load average ${m.loadAverage.start[0]!.toFixed(1)} at the start, ${m.loadAverage.end[0]!.toFixed(1)} at the end`,
  );
  const groups = new Map<string, CellResult[]>();
  for (const c of r.cells) {
    const key = `${c.backend} ${c.op}, ${pathText(c.path)}`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  const s = opts.sweep;
  for (const [key, cells] of groups) {
    log(
      opts,
      `\n${key}: ${s.prepared ? 'prepared (prepXferDlist + makeXferReq)' : 'createXferReq'}${s.recreate ? ', recreated per post' : ''}, depth ${s.depth}, ${s.iterations} iterations (+${s.warmup} warm-up; /${s.largeBlockFactor} over 1 MiB${s.warmupMs > 0 ? `; the process's first cell warms up ${s.warmupMs} ms at least` : ''}), ${WAIT_TEXT[s.wait]}${s.wait === 'await' ? ` (waitSpinUs ${s.waitSpinUs})` : ''}\n`,
    );
    log(opts, cellTable(cells));
  }
  const refs = referenceTable(r.cells);
  if (refs) {
    log(
      opts,
      `\nEach path's floors, measured in the same run (GB/s; the ratios above are nixl-ts ÷ floor):\n`,
    );
    log(opts, refs);
  }
  const used = new Set(r.cells.flatMap((c) => Object.keys(c.baselines) as BaselineName[]));
  const about = BASELINES.filter((b) => used.has(b)).map((b) => `${b}: ${aboutBaseline(b)}`);
  const notes = [...about, ...referenceNotes(r.cells), ...r.notes];
  if (notes.length) log(opts, `\nNotes:\n${notes.map((n) => `- ${n}`).join('\n')}`);
  if (opts.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
}

function writeOutputs(opts: CliOptions, r: BenchReport): void {
  const dir = resolve(opts.outDir);
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'nixl-ts-bench.json');
  const svg = join(dir, 'nixl-ts-bench.svg');
  writeFileSync(json, JSON.stringify(r, null, 2) + '\n');
  const m = r.initiator;
  writeFileSync(
    svg,
    renderChart(
      r.cells,
      `${m.hostname}: ${m.cpus} x ${m.cpuModel}, ${m.os} · load average ${m.loadAverage.start[0]!.toFixed(1)}–${m.loadAverage.end[0]!.toFixed(1)} · ${r.finishedAt.slice(0, 16).replace('T', ' ')} UTC`,
    ),
  );
  process.stderr.write(`\nwrote ${json}\nwrote ${svg}\n`);
}

export async function main(argv: string[]): Promise<number> {
  let opts: CliOptions | 'help';
  try {
    opts = parseCli(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`nixl-ts-bench: ${err.message}\n(see nixl-ts-bench --help)\n`);
      return 2;
    }
    throw err;
  }
  if (opts === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (opts.mode === 'target') {
    await runTarget({
      host: opts.host,
      port: opts.port,
      once: opts.once,
      maxBytes: opts.sweep.totalBuffer,
      onListening: (h, p) => {
        // One JSON line for a parent process; people read stderr.
        process.stdout.write(JSON.stringify({ event: 'listening', host: h, port: p }) + '\n');
        process.stderr.write(`nixl-ts-bench target listening on ${h}:${p}\n`);
      },
    });
    return 0;
  }
  if (opts.mode === 'etcd') return runThroughEtcd(opts);
  if (opts.compare.length && opts.mode !== 'local') {
    throw new UsageError('--compare runs nixlbench on this host: use it without --initiator');
  }
  const backends = await chooseBackends(opts.sweep.backends);
  if (opts.mode === 'initiator') return runInitiator(opts, backends, opts.host, opts.port);

  const target = new LocalTarget();
  try {
    return await runInitiator(opts, backends, '127.0.0.1', await target.port);
  } finally {
    await target.stop();
  }
}

/**
 * nixlbench's etcd runtime: claim a rank (0 initiator, 1 target), wait for
 * the other process, then run the sweep with the control messages in etcd.
 */
async function runThroughEtcd(opts: CliOptions): Promise<number> {
  const { endpoints, group } = opts.etcd!;
  if (opts.compare.length) {
    throw new UsageError('--compare runs nixlbench on this host: use it without --etcd-endpoints');
  }
  process.stderr.write(
    `nixl-ts-bench: joining benchmark group '${group}' at ${endpoints.join(', ')}\n`,
  );
  const { runtime, rank } = await EtcdRuntime.join({ endpoints, group, address: opts.host });
  try {
    process.stderr.write(
      `nixl-ts-bench: rank ${rank.rank} of 2 (${rank.role}); the other rank is at ${rank.peerAddress}\n`,
    );
    if (rank.role === 'target') {
      await runEtcdTarget(runtime, opts.host, opts.sweep.totalBuffer);
      return 0;
    }
    const backends = await chooseBackends(opts.sweep.backends);
    return await runInitiator(opts, backends, rank.peerAddress, 0, {
      control: new EtcdControlClient(runtime),
      address: `${rank.peerAddress} (rank 1, through ${runtime.describe()})`,
    });
  } finally {
    await runtime.close();
  }
}

const isEntry =
  process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isEntry) await runAsCli();

export async function runAsCli(): Promise<void> {
  // UCX prints its warnings to stdout unless told otherwise, and stdout is the
  // report here (--json: the report alone). To stderr with the tables, in this
  // process and the targets it starts; before any UCX library is loaded.
  process.env.UCX_LOG_FILE ??= 'stderr';
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`nixl-ts-bench: ${err.message}\n`);
      process.exitCode = 2;
    } else {
      // A transfer or control error says what failed; the stack only with NIXL_TS_BENCH_DEBUG=1.
      const e = err as Error;
      const text =
        process.env.NIXL_TS_BENCH_DEBUG || /^(debug|trace)$/i.test(process.env.NIXL_LOG_LEVEL ?? '')
          ? (e?.stack ?? String(err))
          : `${e?.name ?? 'Error'}: ${e?.message ?? err}`;
      process.stderr.write(`nixl-ts-bench: ${text}\n`);
      process.exitCode = 1;
    }
  }
}
