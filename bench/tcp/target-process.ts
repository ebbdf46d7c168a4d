import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(
  new URL('./target.' + (import.meta.url.endsWith('.ts') ? 'ts' : 'js'), import.meta.url),
);

/** A benchmark target agent in a child process (bench/tcp/target.ts). */
export class TargetProcess {
  readonly child: ChildProcess;
  readonly #lines: Interface;
  readonly #queue: ((line: string) => void)[] = [];

  constructor(name: string, size: number, params: Record<string, string>) {
    const args = SCRIPT.endsWith('.ts') ? ['--import', 'tsx', SCRIPT] : [SCRIPT];
    this.child = spawn(process.execPath, [...args, JSON.stringify({ name, size, params })], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.#lines = createInterface({ input: this.child.stdout! });
    this.#lines.on('line', (l) => this.#queue.shift()?.(l));
  }

  next(): Promise<any> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('benchmark target did not answer')), 60_000);
      this.#queue.push((l) => {
        clearTimeout(timer);
        resolve(JSON.parse(l));
      });
    });
  }

  async send(cmd: object): Promise<any> {
    const r = this.next();
    this.child.stdin!.write(JSON.stringify(cmd) + '\n');
    return r;
  }

  async quit(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.stdin!.write(JSON.stringify({ cmd: 'quit' }) + '\n');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }
}
