/**
 * Runs bench/ucx/put-flush.c: single-descriptor requests (put or get, then a
 * flush) from a plain C program on UCX, the floor for nixl-ts's batch-1 cells.
 * Compiled with `cc` once per run; undefined when no compiler or UCX headers.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
let binary: Promise<string | undefined> | undefined;

function compile(): Promise<string | undefined> {
  binary ??= (async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'nixl-bench-')), 'put-flush');
    const src = new URL('./put-flush.c', import.meta.url).pathname;
    try {
      await run('cc', ['-O2', '-o', out, src, '-lucp', '-lucs']);
      return out;
    } catch (err) {
      process.stderr.write(`put-flush.c did not compile: ${(err as Error).message}\n`);
      return undefined;
    }
  })();
  return binary;
}

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
  const bin = await compile();
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
