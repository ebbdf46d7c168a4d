import { JsonLineChild, type JsonLineReply } from '../../testing/json-line-child.js';

/**
 * The target side as a child process of this one (the default, one-host
 * mode): the same CLI with --target-listen 127.0.0.1:0 --once, which reports
 * its port in a `listening` event line on stdout. Resolves with that port;
 * stop() waits for it to exit and kills it (by its PID) if it does not.
 */
export class LocalTarget {
  readonly #target: JsonLineChild<JsonLineReply>;
  readonly port: Promise<number>;

  constructor(extraEnv: NodeJS.ProcessEnv = {}) {
    this.#target = new JsonLineChild(process.argv[1]!, 'target process', extraEnv, {
      args: ['--target-listen', '127.0.0.1:0', '--once'],
      // execArgv carries tsx's loader when running from source.
      nodeArgs: process.execArgv,
    });
    this.port = new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`target process did not start within 60 s: ${this.stderr}`)),
        60_000,
      );
      const off = this.#target.onEvent((e) => {
        if (e.event !== 'listening') return;
        clearTimeout(timer);
        off();
        resolve(Number(e.port));
      });
      void this.#target.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`target process exited (${code}) before listening: ${this.stderr}`));
      });
    });
    this.port.catch(() => {});
  }

  get stderr(): string {
    return this.#target.stderr;
  }

  async stop(timeoutMs = 10_000): Promise<void> {
    await this.#target.waitForExit(timeoutMs);
  }
}
