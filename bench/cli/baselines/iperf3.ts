import { runTool } from '../tools.js';

/** iperf3 refuses TCP writes larger than this. */
export const IPERF3_MAX_WRITE = 1024 * 1024;

/**
 * One iperf3 TCP stream to a server the target started: `bytes` bytes in
 * writes of the block size (capped at 1 MiB). GB/s as received.
 * `congestion`: the TCP congestion control to use ('' for the system
 * default), the one the engine uses for the cell, so both are paced alike.
 */
export async function iperf3Gbps(
  host: string,
  port: number,
  blockSize: number,
  bytes: number,
  congestion = '',
): Promise<number> {
  const len = Math.min(blockSize, IPERF3_MAX_WRITE);
  const total = Math.max(bytes, len);
  const r = await runTool(
    'iperf3',
    [
      '-c',
      host,
      '-p',
      String(port),
      '-l',
      String(len),
      '-n',
      String(total),
      '-J',
      ...(congestion ? ['-C', congestion] : []),
    ],
    { timeoutMs: 60_000 },
  );
  if (r.timedOut) throw new Error('iperf3 timed out');
  let report: { error?: string; end?: { sum_received?: { bits_per_second?: number } } };
  try {
    report = JSON.parse(r.stdout);
  } catch {
    throw new Error(`iperf3 printed no JSON (exit ${r.code}): ${r.stderr.slice(0, 200)}`);
  }
  const bps = report.end?.sum_received?.bits_per_second;
  if (report.error || typeof bps !== 'number') {
    throw new Error(`iperf3: ${report.error ?? 'no sum_received in its report'}`);
  }
  return bps / 8 / 1e9;
}
