import type { Op } from '../options.js';
import { runC } from './compile-c.js';

export interface PutFlushCell {
  op: Op;
  blockSize: number;
  batch: number;
  /** Requests in flight (the cell's depth). */
  window: number;
  ms: number;
  /** UCX peer error handling on the endpoint (nixl-ts's 'peer' mode), else none. */
  peerErrors: boolean;
  /** UCX_TLS. */
  tls: string;
  /** Further UCX settings, KEY=VALUE without the UCX_ prefix. */
  config: string[];
}

/**
 * put-flush.c: requests of `batch` puts (WRITE) or gets (READ) and one flush
 * each, from a plain C program on the same UCX with the same transports, on
 * private memory as nixl-ts-bench's: the floor of a UCX cell.
 */
export async function putFlush(c: PutFlushCell): Promise<{ gbps: number; meanUs: number }> {
  const argv = [
    c.op === 'READ' ? 'get' : 'put',
    String(c.blockSize),
    String(c.batch),
    String(c.window),
    String(c.ms),
    '0',
    c.peerErrors ? 'peer' : 'none',
    c.tls,
    ...c.config,
  ];
  const r = await runC<{ gbps: number; mean_us: number }>('put-flush.c', argv, {
    libs: ['-lucp', '-lucs'],
    timeoutMs: c.ms + 30_000,
  });
  return { gbps: r.gbps, meanUs: r.mean_us };
}
