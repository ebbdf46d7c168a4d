import type { Op } from '../options.js';
import { runTool } from '../tools.js';

export interface UcxPerfResult {
  gbps: number;
  /** Average time per operation, µs. */
  avgUs: number;
}

/**
 * Parses ucx_perftest's "Final:" row: iterations, overhead 50%ile / average /
 * overall (µs), bandwidth average / overall (MB/s = 2^20 B/s), message rates.
 */
export function parseUcxPerftest(output: string): UcxPerfResult | undefined {
  const line = output.split('\n').find((l) => l.trimStart().startsWith('Final:'));
  if (!line) return undefined;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  if (f.length < 6 || f.some((v) => !Number.isFinite(v))) return undefined;
  return { gbps: (f[5]! * 1048576) / 1e9, avgUs: f[2]! };
}

/** ucx_perftest's one-sided test that matches a NIXL op. */
export function ucxTestFor(op: Op): string {
  return op === 'WRITE' ? 'ucp_put_bw' : 'ucp_get';
}

/** The client side against a server the target started. */
export async function ucxPerftest(
  host: string,
  port: number,
  op: Op,
  blockSize: number,
  iterations: number,
  warmup: number,
  tls: string,
  loopback: boolean,
): Promise<UcxPerfResult> {
  const env: NodeJS.ProcessEnv = { UCX_TLS: tls };
  if (loopback) env.UCX_NET_DEVICES = 'lo';
  const args = [host, '-p', String(port), '-t', ucxTestFor(op), '-s', String(blockSize)];
  args.push('-n', String(iterations), '-w', String(warmup));
  const r = await runTool('ucx_perftest', args, { env, timeoutMs: 60_000 });
  if (r.timedOut) throw new Error('ucx_perftest timed out');
  const parsed = parseUcxPerftest(r.stdout);
  if (!parsed) {
    const why = (r.stderr || r.stdout).trim().split('\n').slice(-2).join(' ');
    throw new Error(`ucx_perftest (exit ${r.code}) gave no result: ${why.slice(0, 200)}`);
  }
  return parsed;
}
