import type { Op } from '../options.js';
import { runC } from './compile-c.js';

/**
 * request-response.c: one request at a time over a loopback TCP connection
 * between two processes of a C program, the floor of a socket-path transfer
 * of `bytes` (WRITE: the bytes out, 8 back; READ: 8 out, the bytes back).
 * `spin` retries non-blocking calls instead of sleeping (busy_poll_us's way).
 * `congestion`: the TCP congestion control both ends use ('' for the
 * system default), as the engine's `tcp_congestion` sets it for the cell.
 * Loopback only: the program serves itself.
 *
 * Blocking, both processes sleep between requests, so on a VM the floor gets
 * faster when other processes keep the vCPUs awake, while a transfer whose
 * caller spins gets slower: the ratio to it moves with the machine's load
 * (measured: one extra busy process, READ 4 KiB floor 36 → 26 µs, ours 42 →
 * 45 µs; bench/cli/results/2026-12-socket-vs-reqresp/). Compare ratios taken
 * at the same load.
 */
export async function requestResponse(
  op: Op,
  bytes: number,
  spin: boolean,
  congestion = '',
  ms = 150,
): Promise<{ gbps: number; meanUs: number }> {
  const r = await runC<{ mean: number }>(
    'request-response.c',
    [op === 'READ' ? 'read' : 'write', String(bytes), String(ms), spin ? '1' : '0', congestion],
    { timeoutMs: ms + 30_000 },
  );
  return { gbps: bytes / r.mean / 1e3, meanUs: r.mean };
}
