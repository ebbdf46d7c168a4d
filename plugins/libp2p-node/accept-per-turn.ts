/**
 * More than one connection accepted per event-loop iteration on one
 * listening socket. libuv 1.46 (Node 20) accepts one connection per listening
 * handle per iteration and leaves the next to the following poll (its loop on
 * accept went in 1.45, with no switch to bring it back; Node's `reusePort`
 * comes in 22.12). A node whose loop iterates slowly, a seed's worker running
 * many agents during a cluster start, then keeps dials in the kernel's accept
 * queue for seconds, even the ones it refuses at once (refuse-at-accept.ts).
 *
 * Here the server gets more handles on dup()s of its own listening
 * descriptor: one socket, one accept queue, one address (nothing else binds),
 * and each handle is polled in the same iteration, so up to `handles`
 * connections are accepted per iteration (SO_REUSEPORT sockets would split the
 * queue by a hash of the peer's address, and an unlucky queue still drains one
 * per iteration: bench/discovery/results/2026-12-07-daccept). Each handle's
 * sockets reach the server's own 'connection' listeners; closing the server
 * closes every handle at once, so the port stops accepting as before.
 */
import { createServer, type Server } from 'node:net';

import { native } from '../../src/native.js';

/** Handles per listening socket: accepts per iteration at most. */
export const ACCEPT_HANDLES = 4;

type DupListeningSocket = (fd: number) => number;
/** The options a net.Server keeps as fields (not in @types/node). */
interface ServerFields {
  allowHalfOpen: boolean;
  pauseOnConnect: boolean;
  noDelay: boolean;
  keepAlive: boolean;
  /** In seconds: the option was in milliseconds. */
  keepAliveInitialDelay: number;
  highWaterMark: number;
}

/** Lets `server` accept up to `handles` connections per iteration, each time it listens. */
export function acceptManyPerTurn(server: Server, handles = ACCEPT_HANDLES): void {
  const dup = native().dupListeningSocket as DupListeningSocket;
  let extra: Server[] = [];
  const closeExtra = () => {
    for (const helper of extra) helper.close();
    extra = [];
  };
  const openExtra = () => {
    closeExtra();
    const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (fd === undefined || fd < 0) return; // not a descriptor of its own (a pipe, Windows)
    const options = server as unknown as ServerFields;
    for (let i = 1; i < handles; i++) {
      const helper = createServer({
        allowHalfOpen: options.allowHalfOpen,
        pauseOnConnect: options.pauseOnConnect,
        noDelay: options.noDelay,
        keepAlive: options.keepAlive,
        keepAliveInitialDelay: options.keepAliveInitialDelay * 1000,
        highWaterMark: options.highWaterMark,
      });
      helper.maxConnections = server.maxConnections;
      helper.on('connection', (socket) => server.emit('connection', socket));
      // An accept error is the server's, as its own handle's would be.
      helper.on('error', (err) => server.emit('error', err));
      helper.listen({ fd: dup(fd) });
      // The server holds the loop open (or not) as before; its helpers never do.
      helper.unref();
      extra.push(helper);
    }
  };
  server.on('listening', openExtra);
  if (server.listening) openExtra();
  const close = server.close.bind(server);
  server.close = (callback) => {
    closeExtra();
    return close(callback);
  };
}
