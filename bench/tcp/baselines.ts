/**
 * Baselines measured in the same run as the TCP cells: iperf3 over loopback
 * with 1 MiB writes, a raw Node `net` stream between two processes, a
 * single-thread memcpy of the same size, and a C request/response loop (the
 * floor of a one-at-a-time transfer on this machine).
 */
import { execFile, spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { promisify } from 'node:util';

import { native } from '../../src/native.js';
import { compileC } from '../compile-c.js';

const run = promisify(execFile);

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** iperf3, one stream, 1 MiB writes, over 127.0.0.1; GB/s (1e9 B/s) received. */
export async function iperf3(seconds: number): Promise<number | undefined> {
  const port = await freePort();
  const server = spawn('iperf3', ['-s', '-1', '-B', '127.0.0.1', '-p', String(port)], {
    stdio: 'ignore',
  });
  try {
    for (let i = 0; ; i++) {
      try {
        const { stdout } = await run(
          'iperf3',
          ['-c', '127.0.0.1', '-p', String(port), '-l', '1M', '-t', String(seconds), '-J'],
          { timeout: (seconds + 20) * 1000 },
        );
        const j = JSON.parse(stdout);
        return j.end.sum_received.bits_per_second / 8e9;
      } catch (err) {
        if (i >= 20) throw err;
        await new Promise((r) => setTimeout(r, 100)); // the server is still starting
      }
    }
  } catch {
    return undefined;
  } finally {
    server.kill('SIGKILL');
  }
}

/** A raw Node `net` stream to a sink in another process, 1 MiB writes; GB/s. */
export async function nodeNet(seconds: number): Promise<number> {
  const sink = spawn(
    process.execPath,
    [
      '-e',
      `const net=require('net');let n=0;const s=net.createServer(c=>{c.on('data',d=>{n+=d.length});` +
        `c.on('end',()=>{process.stdout.write(String(n)+'\\n');c.end();s.close();})});` +
        `s.listen(0,'127.0.0.1',()=>process.stdout.write(s.address().port+'\\n'));`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  let buf = '';
  sink.stdout!.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiters.shift();
      if (w) w(l);
      else lines.push(l);
    }
  });
  const nextLine = () =>
    new Promise<string>((r) => (lines.length ? r(lines.shift()!) : waiters.push(r)));
  const port = Number(await nextLine());
  const sock = connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  const chunk = Buffer.alloc(1 << 20, 7);
  const start = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  let sent = 0;
  while (Date.now() < deadline) {
    sent += chunk.length;
    if (!sock.write(chunk)) await new Promise((r) => sock.once('drain', r));
  }
  sock.end();
  const received = Number(await nextLine());
  const ns = Number(process.hrtime.bigint() - start);
  sink.kill('SIGKILL');
  if (received !== sent) throw new Error(`net baseline: sent ${sent}, sink got ${received}`);
  return received / ns;
}

/** Single-thread memcpy of `batch` blocks of `size` bytes inside a region; GB/s. */
export function memcpy(
  src: bigint,
  dst: bigint,
  region: number,
  size: number,
  batch: number,
  ms: number,
): number {
  const { copy } = native();
  const slots = Math.max(1, Math.floor(region / size));
  const times: number[] = [];
  const until = Date.now() + ms;
  for (let it = 0; it < 3 || (Date.now() < until && it < 100_000); it++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) {
      const off = BigInt((i % slots) * size);
      copy(dst + off, src + off, size);
    }
    times.push(Number(process.hrtime.bigint() - t0));
  }
  times.sort((a, b) => a - b);
  return (size * batch) / times[times.length >> 1]!;
}

/**
 * Median µs of one request of `size` bytes answered by 8 bytes, one at a time
 * over a loopback TCP connection, from a C program (bench/tcp/request-response.c).
 * `spin` retries non-blocking calls instead of sleeping. Undefined without cc.
 */
export async function requestResponse(
  size: number,
  ms: number,
  spin: boolean,
): Promise<number | undefined> {
  const bin = await compileC(new URL('./request-response.c', import.meta.url));
  if (!bin) return undefined;
  const { stdout } = await run(bin, [String(size), String(ms), spin ? '1' : '0'], {
    timeout: ms + 30_000,
  });
  return (JSON.parse(stdout) as { p50: number }).p50;
}
