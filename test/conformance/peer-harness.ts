import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import type { PeerCommand, PeerReply } from './peer-protocol.js';

type Command = PeerCommand extends infer C
  ? C extends { id: number }
    ? Omit<C, 'id'>
    : never
  : never;

const IS_SOURCE = import.meta.url.endsWith('.ts');

/** A peer agent in a child process, driven over its stdin/stdout. */
export class PeerProcess {
  readonly child: ChildProcess;
  #next = 1;
  #pending = new Map<number, { resolve: (r: PeerReply) => void; reject: (e: Error) => void }>();
  #exited: Promise<number | null>;
  stderr = '';

  constructor(env: NodeJS.ProcessEnv = {}) {
    const script = fileURLToPath(
      new URL(`./peer-process${IS_SOURCE ? '.ts' : '.js'}`, import.meta.url),
    );
    const args = IS_SOURCE ? ['--import', 'tsx', script] : [script];
    this.child = spawn(process.execPath, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    this.child.stderr!.on('data', (d) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      let r: PeerReply;
      try {
        r = JSON.parse(line);
      } catch {
        return; // not ours (a stray log line)
      }
      const p = this.#pending.get(r.id);
      if (!p) return;
      this.#pending.delete(r.id);
      if (r.error) p.reject(new Error(`peer: ${r.error}`));
      else p.resolve(r);
    });
    this.#exited = new Promise((resolve) =>
      this.child.on('exit', (code) => {
        for (const p of this.#pending.values())
          p.reject(new Error(`peer process exited (${code}); stderr: ${this.stderr}`));
        this.#pending.clear();
        resolve(code);
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  send(c: Command): Promise<PeerReply> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.child.stdin!.write(JSON.stringify({ ...c, id }) + '\n');
    });
  }

  /** Asks the peer to close; kills it (by its PID) if it does not exit in time. */
  async close(timeoutMs = 10_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.send({ cmd: 'close' }).catch(() => {});
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.#exited;
    clearTimeout(timer);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    this.child.kill(signal);
    return this.#exited;
  }
}
