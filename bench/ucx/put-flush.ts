/**
 * Runs bench/ucx/put-flush.c: single-descriptor requests (put or get, then a
 * flush) from a plain C program on UCX, the floor for nixl-ts's batch-1 cells.
 * Compiled with `cc` once per run; undefined when no compiler or UCX headers.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { compileC } from '../compile-c.js';

const run = promisify(execFile);

export interface PutFlushCell {
  op: 'WRITE' | 'READ';
  size: number;
  window: number;
  ms: number;
  /** Memory UCX allocates (shared memory) on both sides, else private memory. */
  ucxAlloc: boolean;
  /** UCX peer error handling on the endpoint (nixl-ts's 'peer' mode), else none. */
  peerErrors: boolean;
  /** UCX_TLS. */
  tls: string;
  /** Further UCX settings, KEY=VALUE without the UCX_ prefix. */
  config: string[];
}

/** GB/s (1e9 B/s) of the C program for one cell, NaN if it failed, undefined without cc. */
export async function putFlush(c: PutFlushCell): Promise<number | undefined> {
  const bin = await compileC(new URL('./put-flush.c', import.meta.url), ['-lucp', '-lucs']);
  if (!bin) return undefined;
  const argv = [
    c.op === 'READ' ? 'get' : 'put',
    String(c.size),
    String(c.window),
    String(c.ms),
    c.ucxAlloc ? '1' : '0',
    c.peerErrors ? 'peer' : 'none',
    c.tls,
    ...c.config,
  ];
  try {
    const { stdout } = await run(bin, argv, { timeout: c.ms + 30_000, killSignal: 'SIGKILL' });
    return (JSON.parse(stdout) as { gbps: number }).gbps;
  } catch {
    return NaN;
  }
}
