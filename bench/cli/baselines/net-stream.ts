import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * The raw Node `net` baseline: one TCP stream between two plain Node
 * processes of their own (not the benchmark's agent processes, so no backend
 * thread or agent state shares their event loops). The sink runs on the target
 * host, the writer on the initiator host; both are started with `node -e`.
 *
 * Per connection: an 8-byte header (the byte count, float64 LE), then that
 * many bytes in writes of the block size with backpressure, answered with one
 * byte once they all arrived, so the writer's clock covers delivery.
 */
const SINK = `
const net = require('node:net');
const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  let header = Buffer.alloc(0), expected = -1, received = 0;
  socket.on('data', (chunk) => {
    if (expected < 0) {
      header = Buffer.concat([header, chunk]);
      if (header.length < 8) return;
      expected = header.readDoubleLE(0);
      received = header.length - 8;
    } else received += chunk.length;
    if (received >= expected) { socket.write(Buffer.from([1])); expected = Infinity; }
  });
  socket.on('error', () => socket.destroy());
});
server.listen(0, process.argv[1], () => console.log(JSON.stringify({ port: server.address().port })));
process.stdin.on('end', () => process.exit(0)).resume();
`;

const WRITER = `
const net = require('node:net');
const [host, port, block, writes] = [process.argv[1], +process.argv[2], +process.argv[3], +process.argv[4]];
const chunk = Buffer.allocUnsafeSlow(block).fill(0x3c);
const socket = net.connect({ host, port }, () => {
  const header = Buffer.alloc(8);
  header.writeDoubleLE(block * writes, 0);
  socket.write(header);
  const t0 = process.hrtime.bigint();
  let sent = 0;
  const pump = () => {
    while (sent < writes) { sent++; if (!socket.write(chunk)) { socket.once('drain', pump); return; } }
  };
  socket.once('data', () => {
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(JSON.stringify({ gbps: (block * writes) / s / 1e9 }));
    socket.destroy();
  });
  pump();
});
socket.setNoDelay(true);
socket.on('error', (e) => { console.error(e.message); process.exit(1); });
`;

/** Starts the sink process on host; it exits when its stdin closes (or by its PID). */
export function startNetSink(host: string): Promise<{ port: number; stop: () => void }> {
  const child = spawn(process.execPath, ['-e', SINK, host], { stdio: ['pipe', 'pipe', 'pipe'] });
  const stop = () => {
    child.stdin!.end();
    setTimeout(() => child.kill('SIGKILL'), 2000).unref();
  };
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      resolve({ port: JSON.parse(line).port, stop });
    });
    child.once('exit', (code) => reject(new Error(`net sink exited (${code}): ${err}`)));
  });
}

/** GB/s (1e9 B/s) of `bytes` (rounded up to whole blocks) streamed to the sink. */
export function netStreamGbps(
  host: string,
  port: number,
  blockSize: number,
  bytes: number,
  timeoutMs = 60_000,
): Promise<number> {
  const writes = Math.max(1, Math.ceil(bytes / blockSize));
  const args = ['-e', WRITER, host, String(port), String(blockSize), String(writes)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out).gbps);
      } catch {
        reject(new Error(`net writer failed (exit ${code}): ${err.trim().slice(0, 200)}`));
      }
    });
  });
}
