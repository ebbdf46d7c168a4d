/**
 * A real etcd for tests and benchmarks: one member on 127.0.0.1 (client and
 * peer URLs on free ports), a temporary data directory, started from the
 * `etcd` binary (Debian's etcd-server) and stopped by its PID. kill() and
 * start() again keep the data directory and ports: an etcd restarted
 * mid-run, as a crash and a supervisor would do it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ETCD_BIN = process.env.NIXL_TEST_ETCD_BIN ?? 'etcd';

/** True if the etcd binary runs here. */
export function etcdAvailable(): boolean {
  return spawnSync(ETCD_BIN, ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Skip etcd tests only where etcd is missing outside CI: in CI (CI=true) a
 * missing etcd must fail the run, not skip it.
 */
export const skipWithoutEtcd = !etcdAvailable() && process.env.CI !== 'true';

/** A port free on 127.0.0.1 right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface EtcdServerOptions {
  /** Extra etcd flags (e.g. TLS ones). */
  args?: string[];
  /** The client URL scheme (https with TLS flags). */
  scheme?: 'http' | 'https';
  /** Bound on start (ready to serve). Default 30 s. */
  startTimeoutMs?: number;
  /** The client port (default: a free one). */
  clientPort?: number;
}

export class EtcdServer {
  readonly dataDir: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly endpoint: string;
  /** The last 8,000 characters etcd wrote to stderr (its log). */
  log = '';
  #proc: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  readonly #opts: EtcdServerOptions;

  private constructor(clientPort: number, peerPort: number, opts: EtcdServerOptions) {
    this.dataDir = mkdtempSync(join(tmpdir(), 'nixl-etcd-'));
    this.clientPort = clientPort;
    this.peerPort = peerPort;
    this.#opts = opts;
    this.endpoint = `${opts.scheme ?? 'http'}://127.0.0.1:${clientPort}`;
  }

  /** Starts a new etcd on free ports with an empty data directory. */
  static async start(opts: EtcdServerOptions = {}): Promise<EtcdServer> {
    const s = new EtcdServer(opts.clientPort ?? (await freePort()), await freePort(), opts);
    try {
      await s.start();
    } catch (err) {
      await s.stop();
      throw err;
    }
    return s;
  }

  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  get running(): boolean {
    return (
      this.#proc !== undefined && this.#proc.exitCode === null && this.#proc.signalCode === null
    );
  }

  /** (Re)starts etcd on the same ports and data directory; resolves once it serves clients. */
  async start(): Promise<void> {
    if (this.running) return;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const proc = spawn(
      ETCD_BIN,
      [
        '--name',
        'nixl-test',
        '--data-dir',
        this.dataDir,
        '--listen-client-urls',
        this.endpoint,
        '--advertise-client-urls',
        this.endpoint,
        '--listen-peer-urls',
        peer,
        '--initial-advertise-peer-urls',
        peer,
        '--initial-cluster',
        `nixl-test=${peer}`,
        '--initial-cluster-state',
        'new',
        '--logger',
        'zap',
        '--log-outputs',
        'stderr',
        ...(this.#opts.args ?? []),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.#proc = proc;
    this.#exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    const ms = this.#opts.startTimeoutMs ?? 30_000;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        done();
        reject(new Error(`etcd did not serve within ${ms} ms; log: ${this.log.slice(-2000)}`));
      }, ms);
      const onData = (d: Buffer) => {
        this.log = (this.log + d.toString()).slice(-8000);
        if (/ready to serve client requests|serving client traffic/.test(this.log))
          (done(), resolve());
      };
      const onExit = (code: number | null) => {
        done();
        reject(new Error(`etcd exited (${code}) before serving; log: ${this.log.slice(-2000)}`));
      };
      const done = () => {
        clearTimeout(timer);
        proc.off('exit', onExit);
      };
      proc.stderr!.on('data', onData);
      proc.once('exit', onExit);
      proc.once('error', (err) => (done(), reject(err)));
    });
  }

  /** Kills etcd by its PID (SIGKILL: a crash); the data directory stays. */
  async kill(): Promise<void> {
    if (this.running) this.#proc!.kill('SIGKILL');
    await this.#exited;
  }

  /** Stops etcd by its PID (SIGTERM, SIGKILL after 5 s) and removes its data directory. */
  async stop(): Promise<void> {
    if (this.running) {
      this.#proc!.kill('SIGTERM');
      const t = setTimeout(() => this.#proc?.kill('SIGKILL'), 5000);
      await this.#exited;
      clearTimeout(t);
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** A counter from etcd's /metrics (Prometheus text), summed over its label sets. */
  async metric(
    name: string,
    labelFilter: (labels: string) => boolean = () => true,
  ): Promise<number> {
    const text = await (await fetch(`${this.endpoint}/metrics`)).text();
    let sum = 0;
    for (const line of text.split('\n')) {
      const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (m && m[1] === name && labelFilter(m[2] ?? '')) sum += Number(m[3]);
    }
    return sum;
  }
}
