import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * The target side as a child process of this one (the default, one-host
 * mode): the same CLI with --target-listen 127.0.0.1:0 --once. Resolves with
 * the port it listens on; stop() waits for it to exit and kills it (by its
 * PID) if it does not.
 */
export class LocalTarget {
  readonly child: ChildProcess;
  readonly port: Promise<number>;
  #stderr = '';

  constructor(extraEnv: NodeJS.ProcessEnv = {}) {
    // execArgv carries tsx's loader when running from source.
    const args = [
      ...process.execArgv,
      process.argv[1]!,
      '--target-listen',
      '127.0.0.1:0',
      '--once',
    ];
    this.child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...extraEnv },
    });
    this.child.stderr!.on('data', (d) => (this.#stderr = (this.#stderr + d).slice(-4000)));
    this.port = new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`target process did not start within 60 s: ${this.#stderr}`)),
        60_000,
      );
      createInterface({ input: this.child.stdout! }).on('line', (line) => {
        try {
          const msg = JSON.parse(line);
          if (msg.event === 'listening') {
            clearTimeout(timer);
            resolve(msg.port);
          }
        } catch {
          // not a control line
        }
      });
      this.child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`target process exited (${code}) before listening: ${this.#stderr}`));
      });
    });
    this.port.catch(() => {});
  }

  get stderr(): string {
    return this.#stderr;
  }

  async stop(timeoutMs = 10_000): Promise<void> {
    const c = this.child;
    if (c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}
