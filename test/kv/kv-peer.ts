import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import type { KvPeerCommand, KvPeerReply } from './kv-peer-process.js';

type Command = KvPeerCommand extends infer C
  ? C extends { id: number }
    ? Omit<C, 'id'>
    : never
  : never;

/** A KV peer (prefill or decode side) in a child process. */
export class KvPeer {
  readonly child: ChildProcess;
  #next = 1;
  #pending = new Map<number, { resolve: (r: KvPeerReply) => void; reject: (e: Error) => void }>();
  readonly #exited: Promise<void>;
  stderr = '';

  constructor() {
    const script = fileURLToPath(new URL('./kv-peer-process.ts', import.meta.url));
    this.child = spawn(process.execPath, ['--import', 'tsx', script], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stderr!.on('data', (d) => (this.stderr = (this.stderr + d).slice(-4000)));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      let r: KvPeerReply;
      try {
        r = JSON.parse(line);
      } catch {
        return;
      }
      const p = this.#pending.get(r.id);
      if (!p) return;
      this.#pending.delete(r.id);
      if (r.error) p.reject(new Error(`kv peer: ${r.error}`));
      else p.resolve(r);
    });
    this.#exited = new Promise((resolve) =>
      this.child.on('exit', (code) => {
        for (const p of this.#pending.values())
          p.reject(new Error(`kv peer exited (${code}); stderr: ${this.stderr}`));
        this.#pending.clear();
        resolve();
      }),
    );
  }

  send<T = KvPeerReply>(c: Command): Promise<T & KvPeerReply> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (r: KvPeerReply) => void, reject });
      this.child.stdin!.write(JSON.stringify({ ...c, id }) + '\n');
    });
  }

  /** Stops the process (SIGSTOP) and waits until the kernel reports it stopped. */
  async freeze(): Promise<void> {
    this.child.kill('SIGSTOP');
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const stat = readFileSync(`/proc/${this.child.pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('T')) return;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error('the peer did not stop');
  }

  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.#exited;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.send({ cmd: 'close' }).catch(() => {});
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.#exited;
    clearTimeout(timer);
  }
}
