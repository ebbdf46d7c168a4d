import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** What every reply carries: the command's id, and an error text if it failed. */
export interface JsonLineReply {
  id: number;
  error?: string;
}

/** A line the child sends on its own, not as a reply: it carries `event` instead of a pending id. */
export interface JsonLineEvent {
  event: string;
  [key: string]: unknown;
}

/**
 * A child process driven over stdin/stdout with one JSON object per line each
 * way, replies matched to commands by `id`. The conformance peer, the TCP
 * integration peer and the KV peer all speak this. A `.ts` script runs
 * through tsx; a `.js` one (from dist/) runs as is. A line with an `event`
 * field is not a reply: it goes to the `onEvent` listeners.
 */
export class JsonLineChild<Reply extends JsonLineReply> {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  /** The last 4,000 characters the child wrote to stderr. */
  stderr = '';
  readonly #label: string;
  #next = 1;
  readonly #eventListeners: ((e: JsonLineEvent) => void)[] = [];
  readonly #pending = new Map<
    number,
    { resolve: (r: Reply) => void; reject: (e: Error) => void }
  >();

  constructor(script: string, label: string, env: NodeJS.ProcessEnv = {}) {
    this.#label = label;
    const args = script.endsWith('.ts') ? ['--import', 'tsx', script] : [script];
    this.child = spawn(process.execPath, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    this.child.stderr!.on('data', (d) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      let r: Reply;
      try {
        r = JSON.parse(line);
      } catch {
        return; // not ours (a stray log line)
      }
      if (typeof (r as { event?: unknown }).event === 'string') {
        for (const l of this.#eventListeners) l(r as unknown as JsonLineEvent);
        return;
      }
      const p = this.#pending.get(r.id);
      if (!p) return;
      this.#pending.delete(r.id);
      if (r.error) p.reject(new Error(`${this.#label}: ${r.error}`));
      else p.resolve(r);
    });
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => {
        resolve(code);
        // Replies the child wrote just before it died may still be in the
        // pipe: fail what is pending only once stdout is drained ('close'),
        // or after a grace period if something else holds the pipe open.
        const rejectAll = () => {
          for (const p of this.#pending.values()) {
            p.reject(
              new Error(`${this.#label} exited (${code ?? signal}); stderr: ${this.stderr}`),
            );
          }
          this.#pending.clear();
        };
        const grace = setTimeout(rejectAll, 2_000);
        grace.unref();
        this.child.once('close', () => {
          clearTimeout(grace);
          rejectAll();
        });
      }),
    );
  }

  /** Calls `listener` for every event line (see JsonLineEvent); returns a function that removes it. */
  onEvent(listener: (e: JsonLineEvent) => void): () => void {
    this.#eventListeners.push(listener);
    return () => {
      const i = this.#eventListeners.indexOf(listener);
      if (i >= 0) this.#eventListeners.splice(i, 1);
    };
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends a command; with timeoutMs, rejects if no reply comes in time. */
  send(c: object & { cmd: string }, timeoutMs?: number): Promise<Reply> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const t =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              this.#pending.delete(id);
              reject(new Error(`${this.#label}: no answer to ${c.cmd} in ${timeoutMs} ms`));
            }, timeoutMs);
      this.#pending.set(id, {
        resolve: (r) => (clearTimeout(t), resolve(r)),
        reject: (e) => (clearTimeout(t), reject(e)),
      });
      this.child.stdin!.write(JSON.stringify({ ...c, id }) + '\n');
    });
  }

  /** Sends a signal to the child (by its PID) if it still runs. */
  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child.kill(sig);
  }

  kill(sig: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    this.signal(sig);
    return this.exited;
  }

  /** Asks the child to close; kills it by its PID if it does not exit in time. */
  async close(timeoutMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.send({ cmd: 'close' }).catch(() => {});
    const timer = setTimeout(() => this.signal('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}
