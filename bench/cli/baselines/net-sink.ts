import { createServer, type Server, type Socket } from 'node:net';

/**
 * The receiving end of the raw Node `net` baseline. Per connection: an 8-byte
 * header (the byte count, float64 LE), then that many bytes, answered with one
 * byte once they all arrived, so the sender's clock covers delivery.
 */
export function startNetSink(host: string): Promise<{ server: Server; port: number }> {
  const server = createServer((socket: Socket) => {
    socket.setNoDelay(true);
    let header = Buffer.alloc(0);
    let expected = -1;
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      if (expected < 0) {
        header = Buffer.concat([header, chunk]);
        if (header.length < 8) return;
        expected = header.readDoubleLE(0);
        received = header.length - 8;
      } else {
        received += chunk.length;
      }
      if (received >= expected) {
        socket.write(Buffer.from([1]));
        expected = Number.POSITIVE_INFINITY; // answered; ignore the rest
      }
    });
    socket.on('error', () => socket.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () =>
      resolve({ server, port: (server.address() as { port: number }).port }),
    );
  });
}
