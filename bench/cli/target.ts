import type { ChildProcess } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { cpus, hostname } from 'node:os';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

import { Agent } from '../../src/index.js';
import { fillPattern, verifyPattern } from '../../testing/pattern.js';
import { isLoopback, withLoopbackDevices } from './loopback.js';
import { startNetSink } from './baselines/net-stream.js';
import { serveControl, type ControlRequest } from './control.js';
import { serveEtcdControl, type EtcdRuntime } from './etcd-runtime.js';
import { freePort } from './free-port.js';
import { regionBytes, type SweepConfig } from './options.js';
import { hasTool, startTool, stopTool, waitForOutput } from './tools.js';

export const TARGET_AGENT = 'nixl-ts-bench-target';

/**
 * One initiator's session on the target: the agent with its registered area,
 * and the baseline servers it asked for. Everything is released at the end.
 */
export class TargetSession {
  readonly #host: string;
  readonly #maxBytes: number;
  #sweep: SweepConfig | undefined;
  #agent: Agent | undefined;
  #mem: Buffer | undefined;
  #elu: EventLoopUtilization | undefined;
  #netSink: { port: number; stop: () => void } | undefined;
  #tools: ChildProcess[] = [];

  constructor(host: string, maxBytes: number) {
    this.#host = host;
    this.#maxBytes = maxBytes;
  }

  async handle(req: ControlRequest): Promise<Record<string, unknown>> {
    switch (req.cmd) {
      case 'hello':
        this.#sweep = req.sweep as SweepConfig;
        return {
          hostname: hostname(),
          pid: process.pid,
          cpus: cpus().length,
          cpuModel: cpus()[0]?.model ?? 'unknown',
          tools: { iperf3: hasTool('iperf3'), ucx_perftest: hasTool('ucx_perftest') },
        };
      case 'open':
        return this.#open(
          String(req.backend),
          req.params as Record<string, string>,
          req.backendAlloc === true,
        );
      case 'prepare-cell':
        return this.#prepareCell(req);
      case 'begin-timed':
        this.#elu = performance.eventLoopUtilization();
        return {};
      case 'end-timed': {
        const elu = this.#elu ? performance.eventLoopUtilization(this.#elu).utilization : NaN;
        this.#elu = undefined;
        return { elu };
      }
      case 'verify-cell':
        return this.#verifyCell(req);
      case 'close-backend':
        await this.#closeAgent();
        return {};
      case 'net-sink':
        return { port: await this.#startNetSink() };
      case 'iperf3-server':
        return { port: await this.#startIperf3() };
      case 'ucx-server':
        return { port: await this.#startUcxPerftest(String(req.tls)) };
      case 'bye':
        return {};
      default:
        throw new Error(`unknown control command '${req.cmd}'`);
    }
  }

  /** Opens the backend; `backendAlloc`: memory the backend allocates (UCX: shared memory a peer maps). */
  async #open(
    backend: string,
    params: Record<string, string>,
    backendAlloc = false,
  ): Promise<Record<string, unknown>> {
    if (!this.#sweep) throw new Error("'open' before 'hello'");
    await this.#closeAgent();
    const agent = await Agent.create({ name: TARGET_AGENT });
    try {
      const defaults = agent.getPluginParams(backend).params;
      const p = withLoopbackDevices(defaults, { ...params }, isLoopback(this.#host));
      // Two hosts: the backend listens where the control socket does, unless told otherwise.
      if ('bind_addr' in defaults && p.bind_addr === undefined && !isLoopback(this.#host)) {
        p.bind_addr = this.#host;
      }
      await agent.createBackend(backend, p);
      const bytes = regionBytes(this.#sweep);
      if (!(bytes > 0) || bytes > this.#maxBytes) {
        throw new Error(
          `the initiator's sweep needs ${bytes} B, over this target's --total-buffer ${this.#maxBytes} B`,
        );
      }
      const { buffer, desc } = agent.alloc(bytes, backendAlloc ? { backend } : {});
      agent.registerMem(buffer, { backends: [backend] });
      this.#agent = agent;
      this.#mem = buffer;
      process.stderr.write(`target: ${backend} backend open, ${bytes} B registered\n`);
      return {
        name: agent.name,
        md: Buffer.from(agent.getLocalMD()).toString('base64'),
        // bigint on the wire as a decimal string
        base: desc.addr.toString(),
        bytes,
      };
    } catch (err) {
      await agent.close();
      throw err;
    }
  }

  #area(len: number): Buffer {
    if (!this.#mem) throw new Error('no backend is open');
    if (len > this.#mem.length)
      throw new Error(`cell area ${len} B exceeds the registered ${this.#mem.length} B`);
    return this.#mem;
  }

  #prepareCell(req: ControlRequest): Record<string, unknown> {
    const len = Number(req.len);
    const mem = this.#area(len);
    if (req.op === 'WRITE') {
      mem.fill(0, 0, len);
    } else {
      fillPattern(mem.subarray(0, len), Number(req.seed));
      if (typeof req.corrupt === 'number') mem[req.corrupt] = mem[req.corrupt]! ^ 0xff;
    }
    return {};
  }

  #verifyCell(req: ControlRequest): Record<string, unknown> {
    const len = Number(req.len);
    const mem = this.#area(len);
    if (typeof req.corrupt === 'number') mem[req.corrupt] = mem[req.corrupt]! ^ 0xff;
    return { mismatch: verifyPattern(mem.subarray(0, len), Number(req.seed)) ?? null };
  }

  async #startNetSink(): Promise<number> {
    this.#netSink ??= await startNetSink(this.#host);
    return this.#netSink.port;
  }

  async #startIperf3(): Promise<number> {
    if (!hasTool('iperf3')) throw new Error('iperf3 is not installed on the target host');
    const port = await freePort(this.#host);
    // -1: serve one test and exit; one server per cell keeps the tests independent.
    const child = startTool('iperf3', [
      '-s',
      '-1',
      '-B',
      this.#host,
      '-p',
      String(port),
      '--forceflush',
    ]);
    this.#tools.push(child);
    await waitForOutput(child, /Server listening/, 10_000);
    return port;
  }

  async #startUcxPerftest(tls: string): Promise<number> {
    if (!hasTool('ucx_perftest'))
      throw new Error('ucx_perftest is not installed on the target host');
    const port = await freePort(this.#host);
    const env: NodeJS.ProcessEnv = { UCX_TLS: tls };
    // On one host ucx_perftest stays on loopback.
    if (isLoopback(this.#host)) env.UCX_NET_DEVICES = 'lo';
    const child = startTool('ucx_perftest', ['-p', String(port)], env);
    this.#tools.push(child);
    // ucx_perftest prints nothing when ready; it listens within a few ms of starting.
    await new Promise((r) => setTimeout(r, 300));
    if (child.exitCode !== null) throw new Error(`ucx_perftest server exited (${child.exitCode})`);
    return port;
  }

  async #closeAgent(): Promise<void> {
    const agent = this.#agent;
    this.#agent = undefined;
    this.#mem = undefined;
    await agent?.close();
  }

  async close(): Promise<void> {
    await this.#closeAgent();
    this.#netSink?.stop();
    this.#netSink = undefined;
    await Promise.all(this.#tools.map((t) => stopTool(t)));
    this.#tools = [];
  }
}

/**
 * The target side: listens for initiators on host:port and serves them one at
 * a time. Resolves once closed (after one session with `once`).
 */
export async function runTarget(opts: {
  host: string;
  port: number;
  once: boolean;
  /** The most memory an initiator may make this target register. */
  maxBytes: number;
  onListening: (host: string, port: number) => void;
}): Promise<void> {
  let busy = false;
  let server!: Server;
  const done = new Promise<void>((resolve) => {
    server = createServer((socket: Socket) => {
      if (busy) {
        socket.end(
          JSON.stringify({ id: 0, ok: false, error: 'target busy with another initiator' }) + '\n',
        );
        return;
      }
      busy = true;
      process.stderr.write(
        `target: initiator ${socket.remoteAddress}:${socket.remotePort} connected\n`,
      );
      const session = new TargetSession(opts.host, opts.maxBytes);
      void serveControl(socket, (req) => session.handle(req))
        .then(() => session.close())
        .catch(() => session.close())
        .then(() => {
          process.stderr.write('target: initiator session ended\n');
          busy = false;
          if (opts.once) server.close(() => resolve());
        });
    });
    server.on('close', () => resolve());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address() as { address: string; port: number };
  opts.onListening(addr.address, addr.port);
  return done;
}

/**
 * The target side of an etcd run (rank 1): serves the initiator's requests
 * that come through etcd, then ends. `host`: this process's address.
 */
export async function runEtcdTarget(
  rt: EtcdRuntime,
  host: string,
  maxBytes: number,
): Promise<void> {
  const session = new TargetSession(host, maxBytes);
  process.stderr.write(`target: serving the initiator through ${rt.describe()}\n`);
  try {
    await serveEtcdControl(rt, (req) => session.handle(req));
  } finally {
    await session.close();
    process.stderr.write('target: initiator session ended\n');
  }
}
