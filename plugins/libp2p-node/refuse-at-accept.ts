/**
 * The TCP transport with the node's connection bound asked at accept, before
 * libp2p sees the socket: a refused connection is reset there (RST), with no
 * libp2p connection object, upgrader, connection-manager pass or error built
 * for it. The connection gater's inbound check came one step later, after all
 * of those, and cost the refusing node ~0.6-0.9 ms per refused dial (a seed
 * of a cluster start refuses joiners hundreds of times). The dialer sees the
 * same reset either way. Nothing is read from a refused socket, so a stranger
 * costs the node an accept and a reset.
 */
import type { Socket } from 'node:net';

import { tcp } from '@libp2p/tcp';

type TcpFactory = ReturnType<typeof tcp>;

/** `admit` is asked once per accepted socket; false resets it at once. */
export function tcpRefusingAtAccept(admit: () => boolean): TcpFactory {
  const factory = tcp();
  return (components) => {
    const transport = factory(components);
    const createListener = transport.createListener.bind(transport);
    transport.createListener = (options) => {
      const listener = createListener(options);
      const server = (listener as unknown as { server?: import('node:net').Server }).server;
      if (!server) throw new Error('@libp2p/tcp listener has no server: cannot refuse at accept');
      // The listener's own handler, installed by net.createServer: the only
      // 'connection' listener, called for admitted sockets only.
      const [handOn, ...rest] = server.listeners('connection') as ((s: Socket) => void)[];
      if (!handOn || rest.length) {
        throw new Error('@libp2p/tcp listener has no single connection handler to wrap');
      }
      server.removeListener('connection', handOn);
      server.on('connection', (socket: Socket) => {
        if (admit()) handOn(socket);
        else socket.resetAndDestroy();
      });
      return listener;
    };
    return transport;
  };
}
