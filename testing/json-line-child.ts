import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

/** What every reply carries: the command's id, and an error text if it failed. */
export interface JsonLineReply {
  id: number;
  error?: string;
}

/**
 * A line the other side sends on its own, not as a reply: it carries `event`
 * (or the channel's eventField) instead of a pending id.
 */
export interface JsonLineEvent {
  event: string;
  [key: string]: unknown;
}

/** How a JsonLineChannel words its errors and treats lines that are not JSON. */
export interface JsonLineChannelOptions<Reply extends JsonLineReply> {
  /** The field whose string value marks an event line and names it. Default: `event`. */
  eventField?: string;
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
export class JsonLineChannel<Reply extends JsonLineReply, Event extends object = JsonLineEvent> {
  readonly #output: Writable;
  readonly #label: string;
  readonly #eventField: string;
  readonly #replyError: (reply: Reply) => Error | undefined;
  readonly #timeoutError: (cmd: string, timeoutMs: number) => Error;
  #next = 1;
  #failure: Error | undefined;
  readonly #eventListeners: ((e: Event) => void)[] = [];
  readonly #pending = new Map<
    number,
    { resolve: (r: Reply) => void; reject: (e: Error) => void }
  >();
  /** Callers of nextEvent still waiting: failed with the channel, like pending commands. */
  readonly #eventWaiters = new Set<(e: Error) => void>();

  constructor(
    input: Readable,
    output: Writable,
    label: string,
    opts: JsonLineChannelOptions<Reply> = {},
  ) {
    this.#output = output;
    this.#label = label;
    this.#eventField = opts.eventField ?? 'event';
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
      if (typeof (r as Record<string, unknown>)[this.#eventField] === 'string') {
        // A copy: a listener may remove itself (or add one) while we call them.
        for (const l of [...this.#eventListeners]) l(r as unknown as Event);
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
  onEvent(listener: (e: Event) => void): () => void {
    this.#eventListeners.push(listener);
    return () => {
      const i = this.#eventListeners.indexOf(listener);
      if (i >= 0) this.#eventListeners.splice(i, 1);
    };
  }

  /**
   * The next event named `match` (or for which `match` returns true) from now
   * on (earlier ones are not kept); rejects after timeoutMs, or with the
   * channel's failure if that comes first.
   */
  nextEvent(
    match: string | ((e: Event) => boolean),
    timeoutMs: number,
    timeoutError = () => new Error(`${this.#label}: no ${describe(match)} in ${timeoutMs} ms`),
  ): Promise<Event> {
    if (this.#failure) return Promise.reject(this.#failure);
    const matches =
      typeof match === 'string'
        ? (e: Event) => (e as Record<string, unknown>)[this.#eventField] === match
        : match;
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        off();
        this.#eventWaiters.delete(fail);
      };
      const fail = (err: Error) => (done(), reject(err));
      const timer = setTimeout(() => fail(timeoutError()), timeoutMs);
      const off = this.onEvent((e) => {
        if (matches(e)) (done(), resolve(e));
      });
      this.#eventWaiters.add(fail);
    });
  }

  /** Sends a command as `{...c, id}`; with timeoutMs, rejects if no reply comes in time. */
  send(c: { cmd: string; [key: string]: unknown }, timeoutMs?: number): Promise<Reply> {
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

  /** Writes one line that expects no reply (no id): for a protocol that answers with events. */
  post(message: object): void {
    this.#output.write(JSON.stringify(message) + '\n');
  }

  /** Rejects every pending command and nextEvent with `err`, and every later one with the first failure. */
  fail(err: Error): void {
    this.#failure ??= err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
    for (const w of [...this.#eventWaiters]) w(err);
  }
}

/** How a timeout names the event it waited for. */
function describe(match: string | ((e: never) => boolean)): string {
  return typeof match === 'string' ? `'${match}' event` : 'matching event';
}

/** How to start a JsonLineChild beyond its script. */
export interface JsonLineChildOptions {
  /** Arguments after the script. */
  args?: string[];
  /** Node's own arguments before the script; by default `--import tsx` for a `.ts` script, none for a `.js` one. */
  nodeArgs?: string[];
  /** The child's working directory (default: this process's). */
  cwd?: string;
  /**
   * 'pipe' (the default) keeps the tail of the child's stderr for error
   * messages (JsonLineChild.stderr); 'inherit' shows it live instead, as a
   * benchmark's target does, and leaves `stderr` empty.
   */
  stderr?: 'pipe' | 'inherit';
  /** The field that marks an event line (see JsonLineChannelOptions.eventField). */
  eventField?: string;
  /**
   * Called with each line of the child's stdout that is not a JSON object:
   * for a child that prints plain text besides its JSON lines (a report to
   * pass on). Default: such lines are skipped, as stray log lines.
   */
  textLine?: (line: string) => void;
  /** Starts the process (default: node's spawn); see SpawnChild. */
  spawn?: SpawnChild;
}

/**
 * How a JsonLineChild starts its process: node's spawn by default; a test
 * that runs the child inside a network namespace passes its own (around
 * Hosts.spawn), which must honour the given options.
 */
export type SpawnChild = (file: string, args: string[], options: SpawnOptions) => ChildProcess;

/**
 * A child process driven over stdin/stdout with one JSON object per line each
 * way (a JsonLineChannel): the one driver for every Node.js child that the
 * tests, the benchmarks and the bench CLI talk to in JSON lines. The
 * conformance peer, the integration, KV and discovery test agents, the
 * benchmarks' targets and nixl-ts-bench's local target all run this way. A
 * `.ts` script runs through tsx; a `.js` one (from dist/) runs as is. The
 * child's side of the protocol is serveJsonLines (json-line-server.ts).
 */
export class JsonLineChild<Reply extends JsonLineReply, Event extends object = JsonLineEvent> {
  readonly child: ChildProcess;
  /** The exit code (null when a signal ended it), once the child has exited. */
  readonly exited: Promise<number | null>;
  /** The last 4,000 characters the child wrote to stderr (with stderr: 'pipe'). */
  stderr = '';
  readonly #label: string;
  readonly #channel: JsonLineChannel<Reply, Event>;

  constructor(
    script: string,
    label: string,
    env: NodeJS.ProcessEnv = {},
    opts: JsonLineChildOptions = {},
  ) {
    this.#label = label;
    const nodeArgs = opts.nodeArgs ?? (script.endsWith('.ts') ? ['--import', 'tsx'] : []);
    this.child = (opts.spawn ?? spawn)(
      process.execPath,
      [...nodeArgs, script, ...(opts.args ?? [])],
      {
        stdio: ['pipe', 'pipe', opts.stderr ?? 'pipe'],
        env: { ...process.env, ...env },
        cwd: opts.cwd,
      },
    );
    this.child.stderr?.on('data', (d) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    // Writing to a child that has just died fails with EPIPE; the exit below reports it.
    this.child.stdin!.on('error', () => {});
    const textLine = opts.textLine;
    this.#channel = new JsonLineChannel(this.child.stdout!, this.child.stdin!, label, {
      eventField: opts.eventField,
      malformedLine: textLine && ((line) => (textLine(line), undefined)),
    });
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
  onEvent(listener: (e: Event) => void): () => void {
    return this.#channel.onEvent(listener);
  }

  /**
   * The next event named `match` (or for which it returns true) from now on:
   * subscribe before it can arrive (a start-up event: right after
   * construction). Rejects after timeoutMs, or if the child exits first.
   */
  nextEvent(match: string | ((e: Event) => boolean), timeoutMs: number): Promise<Event> {
    return this.#channel.nextEvent(
      match,
      timeoutMs,
      () =>
        new Error(
          `${this.#label}: no ${describe(match)} in ${timeoutMs} ms; stderr: ${this.stderr}`,
        ),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends a command; with timeoutMs, rejects if no reply comes in time. */
  send(c: { cmd: string; [key: string]: unknown }, timeoutMs?: number): Promise<Reply> {
    return this.#channel.send(c, timeoutMs);
  }

  /** Writes one line that expects no reply (see JsonLineChannel.post). */
  post(message: object): void {
    this.#channel.post(message);
  }

  /** Closes the child's stdin: for children that stop when their input ends. */
  endInput(): void {
    this.child.stdin!.end();
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

  /** Asks the child to close (`{cmd: 'close'}`); kills it by its PID if it does not exit in time. */
  async close(timeoutMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.send({ cmd: 'close' }).catch(() => {});
    await this.waitForExit(timeoutMs);
  }
}
