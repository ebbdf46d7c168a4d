import { JsonLineChild, type JsonLineReply } from '../../testing/json-line-child.js';

/**
 * The target side as a child process of this one (the default, one-host
 * mode): the CLI with --target-listen 127.0.0.1:0 --once, which reports its
 * port in a `listening` event line on stdout. Resolves with that port;
 * stop() waits for it to exit and kills it (by its PID) if it does not.
 * `cli` is the CLI's entry script: this process's own by default; the probes
 * (bench/probes) pass main.ts.
 */
export class LocalTarget {
  readonly #target: JsonLineChild<JsonLineReply>;
  readonly port: Promise<number>;

  constructor(cli = process.argv[1]!, extraEnv: NodeJS.ProcessEnv = {}) {
    this.#target = new JsonLineChild(cli, 'target process', extraEnv, {
      args: ['--target-listen', '127.0.0.1:0', '--once'],
      // execArgv carries tsx's loader when running from source.
      nodeArgs: process.execArgv,
    });
    // Rejects if it has not listened within 60 s, or exits first (both with its stderr).
    this.port = this.#target.nextEvent('listening', 60_000).then((e) => Number(e.port));
    this.port.catch(() => {});
  }

  get stderr(): string {
    return this.#target.stderr;
  }

  /** The target's process id. */
  get pid(): number {
    return this.#target.pid;
  }

  /** Signals the target process (by its PID). */
  signal(signal: NodeJS.Signals): void {
    this.#target.signal(signal);
  }

  async stop(timeoutMs = 10_000): Promise<void> {
    await this.#target.waitForExit(timeoutMs);
  }
}
