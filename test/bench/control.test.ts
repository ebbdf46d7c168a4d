import { createServer, connect, type Server, type Socket } from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';

import { ControlClient, ControlError, serveControl } from '../../bench/cli/control.js';

let server: Server | undefined;
afterEach(() => {
  server?.close();
  server = undefined;
});

/** A client connected to a server that runs `onSocket` for its one connection. */
async function pair(onSocket: (s: Socket) => void): Promise<ControlClient> {
  server = createServer(onSocket);
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((r, j) => socket.once('connect', () => r()).once('error', j));
  return new ControlClient(socket);
}

describe('nixl-ts-bench control channel', () => {
  it('answers in order, and a failed command rejects with the target’s error', async () => {
    const client = await pair((s) =>
      serveControl(s, async (req) => {
        if (req.cmd === 'fail') throw new Error('no such cell');
        return { echo: req.x };
      }),
    );
    await expect(client.request('echo', { x: 5 })).resolves.toMatchObject({ ok: true, echo: 5 });
    const err = await client.request('fail').catch((e: Error) => e);
    expect(err).toBeInstanceOf(ControlError);
    expect((err as Error).message).toBe('target: no such cell');
    client.close();
  });

  it('times out a command without an answer, and fails pending and later commands once the target is gone', async () => {
    let peer!: Socket;
    const client = await pair((s) => (peer = s));
    await expect(client.request('hello', {}, 200)).rejects.toThrow(
      "target did not answer 'hello' within 0.2 s",
    );
    const pending = client.request('open');
    await new Promise((r) => setTimeout(r, 50));
    peer.destroy();
    await expect(pending).rejects.toThrow('control connection to the target lost');
    await expect(client.request('bye')).rejects.toBeInstanceOf(ControlError);
  });

  it('a malformed line from the target fails the channel', async () => {
    const client = await pair((s) => s.on('data', () => s.write('not json\n')));
    await expect(client.request('hello')).rejects.toThrow(
      'target sent a malformed control line: not json',
    );
    await expect(client.request('bye')).rejects.toThrow('malformed control line');
    client.close();
  });
});
