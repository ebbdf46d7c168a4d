/**
 * A real S3-API server for tests and benchmarks: s3rver (npm, a filesystem
 * store behind the S3 REST API) in its own process on 127.0.0.1, a free port,
 * a temporary directory, stopped by its PID. kill() and start() again keep
 * the directory and the port: a store that went away and came back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('./s3rver-main.mjs', import.meta.url));

/** s3rver accepts any credentials whose key id it knows; these are its defaults. */
export const S3_TEST_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface S3ServerOptions {
  /** Buckets to create at start. */
  buckets?: string[];
  /** Bound on start (ready to serve). Default 30 s. */
  startTimeoutMs?: number;
}

export class S3Server {
  readonly directory: string;
  readonly buckets: string[];
  #port = 0;
  #child?: ChildProcess;
  readonly #startTimeoutMs: number;

  private constructor(opts: S3ServerOptions) {
    this.directory = mkdtempSync(join(tmpdir(), 'nixl-s3-'));
    this.buckets = opts.buckets ?? [];
    this.#startTimeoutMs = opts.startTimeoutMs ?? 30_000;
  }

  static async start(opts: S3ServerOptions = {}): Promise<S3Server> {
    const s = new S3Server(opts);
    try {
      await s.start();
    } catch (err) {
      await s.stop();
      throw err;
    }
    return s;
  }

  get port(): number {
    return this.#port;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** The OBJ backend's parameters for this server and `bucket`. */
  params(bucket = this.buckets[0] ?? ''): Record<string, string> {
    return {
      endpoint_override: this.endpoint,
      bucket,
      access_key: S3_TEST_CREDENTIALS.accessKeyId,
      secret_key: S3_TEST_CREDENTIALS.secretAccessKey,
      region: 'us-east-1',
      force_path_style: 'true',
    };
  }

  /** Starts the server process (again, on the same port and directory after kill()). */
  async start(): Promise<void> {
    if (this.#child) throw new Error('the S3 server is running already');
    const child = spawn(
      process.execPath,
      [MAIN, this.directory, String(this.#port), ...this.buckets],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#child = child;
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr = (stderr + String(d)).slice(-4000)));
    const lines = createInterface({ input: child.stdout! });
    try {
      this.#port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`the S3 server did not start within ${this.#startTimeoutMs} ms`)),
          this.#startTimeoutMs,
        );
        lines.once('line', (line) => {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { port: number }).port);
        });
        child.once('exit', (code, sig) => {
          clearTimeout(timer);
          reject(new Error(`the S3 server exited (${code ?? sig}) at start: ${stderr}`));
        });
      });
    } finally {
      lines.close();
    }
  }

  /** Kills the server process by its PID (default SIGKILL: a store that goes away) and waits for it to exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    process.kill(child.pid!, signal);
    try {
      process.kill(child.pid!, 'SIGCONT'); // a paused server handles SIGTERM once it runs
    } catch {
      // gone already
    }
    await exited;
  }

  /** SIGSTOP / SIGCONT by PID: a store that stops answering without closing its sockets. */
  pause(): void {
    if (this.#child?.pid) process.kill(this.#child.pid, 'SIGSTOP');
  }

  resume(): void {
    if (this.#child?.pid) process.kill(this.#child.pid, 'SIGCONT');
  }

  /** Kills the server and removes its directory. Idempotent. */
  async stop(): Promise<void> {
    await this.kill('SIGTERM');
    rmSync(this.directory, { recursive: true, force: true });
  }
}
