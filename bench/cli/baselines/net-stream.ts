import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';

/**
 * The raw Node `net` baseline: one TCP stream from this process to the
 * target process's sink, `bytes` bytes written in blockSize writes with
 * backpressure. GB/s from the first write to the sink's acknowledgement.
 */
export function netStreamGbps(
  host: string,
  port: number,
  blockSize: number,
  bytes: number,
  timeoutMs = 30_000,
): Promise<number> {
  const chunk = Buffer.alloc(blockSize, 0x3c);
  const writes = Math.max(1, Math.ceil(bytes / blockSize));
  const total = writes * blockSize;
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.setNoDelay(true);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`net stream did not finish within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    let t0 = 0;
    socket.once('connect', () => {
      const header = Buffer.alloc(8);
      header.writeDoubleLE(total, 0);
      socket.write(header);
      t0 = performance.now();
      let sent = 0;
      const pump = () => {
        while (sent < writes) {
          sent++;
          if (!socket.write(chunk)) {
            socket.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
    socket.once('data', () => {
      const seconds = (performance.now() - t0) / 1000;
      clearTimeout(timer);
      socket.destroy();
      resolve(total / seconds / 1e9);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
