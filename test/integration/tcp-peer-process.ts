import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./tcp-peer.ts', import.meta.url));

/** A TCP agent in a child process (test/integration/tcp-peer.ts). */
export class TcpPeer {
  readonly child: ChildProcess;
  readonly name: string;
  md = '';
  addr = 0n;
  #next = 1;
  #pending = new Map<number, { resolve: (r: any) => void; reject: (e: Error) => void }>();
  readonly exited: Promise<void>;
  stderr = '';

  private constructor(name: string) {
    this.name = name;
    this.child = spawn(process.execPath, ['--import', 'tsx', SCRIPT], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stderr!.on('data', (d) => (this.stderr = (this.stderr + d).slice(-4000)));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      let r: any;
      try {
        r = JSON.parse(line);
      } catch {
        return;
      }
      const p = this.#pending.get(r.id);
      if (!p) return;
      this.#pending.delete(r.id);
      if (r.error) p.reject(new Error(`peer ${this.name}: ${r.error}`));
      else p.resolve(r);
    });
    this.exited = new Promise((resolve) =>
      this.child.on('exit', () => {
        for (const p of this.#pending.values()) p.reject(new Error(`peer ${this.name} exited`));
        this.#pending.clear();
        resolve();
      }),
    );
  }

  static async start(name: string, size: number, params: Record<string, string>): Promise<TcpPeer> {
    const p = new TcpPeer(name);
    const r = await p.send({ cmd: 'init', name, size, params });
    p.md = r.md;
    p.addr = BigInt(r.addr);
    return p;
  }

  get mdBytes(): Buffer {
    return Buffer.from(this.md, 'base64');
  }

  send(c: Record<string, unknown>, timeoutMs = 60_000): Promise<any> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`peer ${this.name}: no answer to ${String(c.cmd)} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (r) => (clearTimeout(t), resolve(r)),
        reject: (e) => (clearTimeout(t), reject(e)),
      });
      this.child.stdin!.write(JSON.stringify({ ...c, id }) + '\n');
    });
  }

  signal(sig: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(sig);
  }

  /** Closes the peer; kills it by its PID if it does not exit in time. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.send({ cmd: 'close' }).catch(() => {});
    const t = setTimeout(() => this.signal('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(t);
  }
}
