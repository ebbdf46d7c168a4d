import type { Op } from '../options.js';
import { runC } from './compile-c.js';

/**
 * vm-copy.c: process_vm_writev (WRITE) or process_vm_readv (READ) of a batch
 * of blocks into or out of another process, one call per transfer, single
 * thread: the kernel copy the same-host path makes, without its protocol.
 */
export async function vmCopy(
  op: Op,
  blockSize: number,
  batch: number,
  ms = 150,
): Promise<{ gbps: number; meanUs: number }> {
  const r = await runC<{ mean: number }>(
    'vm-copy.c',
    [op === 'READ' ? 'read' : 'write', String(blockSize), String(batch), String(ms)],
    { timeoutMs: ms + 30_000 },
  );
  return { gbps: (blockSize * batch) / r.mean / 1e3, meanUs: r.mean };
}
