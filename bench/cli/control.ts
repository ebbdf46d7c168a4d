import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';

import { JsonLineChannel } from '../../testing/json-line-child.js';

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

/** The initiator's side of the control channel: over a socket (ControlClient) or etcd (etcd-runtime.ts). */
export interface Control {
  request<T extends object = Record<string, unknown>>(
    cmd: string,
    args?: Record<string, unknown>,
    timeoutMs?: number,
  ): Promise<ControlReply & T>;
  close(): void;
}

/**
 * The initiator's end: request/reply with a timeout on every request, over
 * the same JSON-line channel the test harness drives its child processes with.
 */
export class ControlClient implements Control {
  readonly #socket: Socket;
  readonly #channel: JsonLineChannel<ControlReply>;

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    this.#channel = new JsonLineChannel<ControlReply>(socket, socket, 'target', {
      replyError: (r) => (r.ok ? undefined : new ControlError(`target: ${r.error ?? 'failed'}`)),
      timeoutError: (cmd, ms) =>
        new ControlError(`target did not answer '${cmd}' within ${ms / 1000} s`),
      malformedLine: (line) =>
        new ControlError(`target sent a malformed control line: ${line.slice(0, 80)}`),
    });
    const onGone = (err?: Error) =>
      this.#channel.fail(
        new ControlError(`control connection to the target lost${err ? `: ${err.message}` : ''}`),
      );
    socket.on('error', onGone);
    socket.on('close', () => onGone());
  }

  request<T extends object = Record<string, unknown>>(
    cmd: string,
    args: Record<string, unknown> = {},
    timeoutMs = 60_000,
  ): Promise<ControlReply & T> {
    return this.#channel.send({ ...args, cmd }, timeoutMs) as Promise<ControlReply & T>;
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
