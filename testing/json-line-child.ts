import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

/** What every reply carries: the command's id, and an error text if it failed. */
export interface JsonLineReply {
  id: number;
  error?: string;
}

/** A line the other side sends on its own, not as a reply: it carries `event` instead of a pending id. */
export interface JsonLineEvent {
  event: string;
  [key: string]: unknown;
}

/** How a JsonLineChannel words its errors and treats lines that are not JSON. */
export interface JsonLineChannelOptions<Reply extends JsonLineReply> {
  /** The error a reply fails its command with, or undefined if it succeeded. Default: `<label>: <reply.error>` when `error` is set. */
  replyError?: (reply: Reply) => Error | undefined;
  /** The error of a command without a reply in time. Default: `<label>: no answer to <cmd> in <ms> ms`. */
  timeoutError?: (cmd: string, timeoutMs: number) => Error;
  /** A line that is not JSON: undefined skips it (the default: a stray log line); an error fails the channel. */
  malformedLine?: (line: string) => Error | undefined;
}

/**
 * Commands and replies as one JSON object per line each way over any pair of
 * streams (a child's stdin/stdout, a socket), replies matched to commands by
 * `id`. A line with an `event` field is not a reply: it goes to the `onEvent`
 * listeners. Once failed (the other side gone), every pending command and
 * every later one rejects with the first failure.
 */
export class JsonLineChannel<Reply extends JsonLineReply> {
  readonly #output: Writable;
  readonly #label: string;
  readonly #replyError: (reply: Reply) => Error | undefined;
  readonly #timeoutError: (cmd: string, timeoutMs: number) => Error;
  #next = 1;
  #failure: Error | undefined;
  readonly #eventListeners: ((e: JsonLineEvent) => void)[] = [];
  readonly #pending = new Map<
    number,
    { resolve: (r: Reply) => void; reject: (e: Error) => void }
  >();

  constructor(
    input: Readable,
    output: Writable,
    label: string,
    opts: JsonLineChannelOptions<Reply> = {},
  ) {
    this.#output = output;
    this.#label = label;
    this.#replyError =
      opts.replyError ?? ((r) => (r.error ? new Error(`${label}: ${r.error}`) : undefined));
    this.#timeoutError =
      opts.timeoutError ?? ((cmd, ms) => new Error(`${label}: no answer to ${cmd} in ${ms} ms`));
    const rl = createInterface({ input, crlfDelay: Infinity });
    // readline re-emits the input's errors; whoever owns the stream reports them (fail()).
    rl.on('error', () => {});
    rl.on('line', (line) => {
      let r: Reply;
      try {
        r = JSON.parse(line);
        if (typeof r !== 'object' || r === null) throw new Error('not an object');
      } catch {
        const err = opts.malformedLine?.(line);
        if (err) this.fail(err);
        return;
      }
      if (typeof (r as { event?: unknown }).event === 'string') {
        for (const l of this.#eventListeners) l(r as unknown as JsonLineEvent);
        return;
      }
      const p = this.#pending.get(r.id);
      if (!p) return;
      this.#pending.delete(r.id);
      const err = this.#replyError(r);
      if (err) p.reject(err);
      else p.resolve(r);
    });
  }

  /** The first failure (see fail()), or undefined while the channel works. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Calls `listener` for every event line (see JsonLineEvent); returns a function that removes it. */
  onEvent(listener: (e: JsonLineEvent) => void): () => void {
    this.#eventListeners.push(listener);
    return () => {
      const i = this.#eventListeners.indexOf(listener);
      if (i >= 0) this.#eventListeners.splice(i, 1);
    };
  }

  /** Sends a command as `{...c, id}`; with timeoutMs, rejects if no reply comes in time. */
  send(c: object & { cmd: string }, timeoutMs?: number): Promise<Reply> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const t =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              this.#pending.delete(id);
              reject(this.#timeoutError(c.cmd, timeoutMs));
            }, timeoutMs);
      this.#pending.set(id, {
        resolve: (r) => (clearTimeout(t), resolve(r)),
        reject: (e) => (clearTimeout(t), reject(e)),
      });
      this.#output.write(JSON.stringify({ ...c, id }) + '\n');
    });
  }

  /** Rejects every pending command with `err`, and every later one with the first failure. */
  fail(err: Error): void {
    this.#failure ??= err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }
}

/** How to start a JsonLineChild beyond its script. */
export interface JsonLineChildOptions {
  /** Arguments after the script. */
  args?: string[];
  /** Node's own arguments before the script; by default `--import tsx` for a `.ts` script, none for a `.js` one. */
  nodeArgs?: string[];
}

/**
 * A child process driven over stdin/stdout with one JSON object per line each
 * way (a JsonLineChannel). The conformance peer, the TCP integration peer,
 * the KV peer and nixl-ts-bench's local target all run this way. A `.ts`
 * script runs through tsx; a `.js` one (from dist/) runs as is.
 */
export class JsonLineChild<Reply extends JsonLineReply> {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  /** The last 4,000 characters the child wrote to stderr. */
  stderr = '';
  readonly #channel: JsonLineChannel<Reply>;

  constructor(
    script: string,
    label: string,
    env: NodeJS.ProcessEnv = {},
    opts: JsonLineChildOptions = {},
  ) {
    const nodeArgs = opts.nodeArgs ?? (script.endsWith('.ts') ? ['--import', 'tsx'] : []);
    this.child = spawn(process.execPath, [...nodeArgs, script, ...(opts.args ?? [])], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    this.child.stderr!.on('data', (d) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    // Writing to a child that has just died fails with EPIPE; the exit below reports it.
    this.child.stdin!.on('error', () => {});
    this.#channel = new JsonLineChannel(this.child.stdout!, this.child.stdin!, label);
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => {
        resolve(code);
        // Replies the child wrote just before it died may still be in the
        // pipe: fail what is pending only once stdout is drained ('close'),
        // or after a grace period if something else holds the pipe open.
        const failAll = () =>
          this.#channel.fail(
            new Error(`${label} exited (${code ?? signal}); stderr: ${this.stderr}`),
          );
        const grace = setTimeout(failAll, 2_000);
        grace.unref();
        this.child.once('close', () => {
          clearTimeout(grace);
          failAll();
        });
      }),
    );
  }

  /** Calls `listener` for every event line (see JsonLineEvent); returns a function that removes it. */
  onEvent(listener: (e: JsonLineEvent) => void): () => void {
    return this.#channel.onEvent(listener);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends a command; with timeoutMs, rejects if no reply comes in time. */
  send(c: object & { cmd: string }, timeoutMs?: number): Promise<Reply> {
    return this.#channel.send(c, timeoutMs);
  }

  /** Sends a signal to the child (by its PID) if it still runs. */
  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child.kill(sig);
  }

  kill(sig: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    this.signal(sig);
    return this.exited;
  }

  /** Waits for the child to exit by itself; kills it by its PID if it has not within timeoutMs. */
  async waitForExit(timeoutMs = 10_000): Promise<number | null> {
    if (!this.running) return this.exited;
    const timer = setTimeout(() => this.signal('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Asks the child to close; kills it by its PID if it does not exit in time. */
  async close(timeoutMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.send({ cmd: 'close' }).catch(() => {});
    await this.waitForExit(timeoutMs);
  }
}
