import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';

/**
 * The benchmark's control channel between initiator and target: one JSON
 * object per line over a TCP socket. It carries metadata and per-cell
 * commands, never payload; the transfers themselves go over the backend.
 */
export interface ControlRequest {
  id: number;
  cmd: string;
  [key: string]: unknown;
}

export interface ControlReply {
  id: number;
  ok: boolean;
  error?: string;
  [key: string]: unknown;
}

export class ControlError extends Error {}

/** The initiator's end: request/reply with a timeout on every request. */
export class ControlClient {
  readonly #socket: Socket;
  #next = 1;
  readonly #pending = new Map<
    number,
    { resolve: (r: ControlReply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  #closedError: Error | undefined;

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    const rl = createInterface({ input: socket, crlfDelay: Infinity });
    // readline re-emits the socket's errors; the socket's own handler below reports them.
    rl.on('error', () => {});
    rl.on('line', (line) => {
      let reply: ControlReply;
      try {
        reply = JSON.parse(line);
      } catch {
        this.#failAll(
          new ControlError(`target sent a malformed control line: ${line.slice(0, 80)}`),
        );
        return;
      }
      const p = this.#pending.get(reply.id);
      if (!p) return;
      this.#pending.delete(reply.id);
      clearTimeout(p.timer);
      if (reply.ok) p.resolve(reply);
      else p.reject(new ControlError(`target: ${reply.error ?? 'failed'}`));
    });
    const onGone = (err?: Error) =>
      this.#failAll(
        new ControlError(`control connection to the target lost${err ? `: ${err.message}` : ''}`),
      );
    socket.on('error', onGone);
    socket.on('close', () => onGone());
  }

  #failAll(err: Error): void {
    this.#closedError ??= err;
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.#pending.clear();
  }

  request<T extends object = Record<string, unknown>>(
    cmd: string,
    args: Record<string, unknown> = {},
    timeoutMs = 60_000,
  ): Promise<ControlReply & T> {
    if (this.#closedError) return Promise.reject(this.#closedError);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new ControlError(`target did not answer '${cmd}' within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (r: ControlReply) => void, reject, timer });
      this.#socket.write(JSON.stringify({ ...args, id, cmd }) + '\n');
    });
  }

  close(): void {
    this.#socket.end();
  }
}

/** The target's end: calls the handler per request, in order, and writes its reply. */
export function serveControl(
  socket: Socket,
  handler: (req: ControlRequest) => Promise<Record<string, unknown>>,
): Promise<void> {
  socket.setNoDelay(true);
  return new Promise((resolve) => {
    let chain = Promise.resolve();
    const rl = createInterface({ input: socket, crlfDelay: Infinity });
    rl.on('error', () => {}); // the socket's error handler below covers it
    rl.on('line', (line) => {
      chain = chain.then(async () => {
        let req: ControlRequest;
        try {
          req = JSON.parse(line);
        } catch {
          socket.destroy(new Error('malformed control line'));
          return;
        }
        let reply: ControlReply;
        try {
          reply = { ...(await handler(req)), id: req.id, ok: true };
        } catch (err) {
          reply = { id: req.id, ok: false, error: (err as Error)?.message ?? String(err) };
        }
        if (!socket.destroyed) socket.write(JSON.stringify(reply) + '\n');
      });
    });
    socket.on('error', () => {});
    socket.on('close', () => void chain.then(() => resolve()));
  });
}
