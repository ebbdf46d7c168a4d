import { freePort } from './free-port.js';
import type { Op, SweepConfig } from './options.js';
import type { CellResult } from './results.js';
import { runTool } from './tools.js';

export interface NixlbenchRow {
  blockSize: number;
  batch: number;
  gbps: number;
  avgLatUs: number;
}

/**
 * Parses nixlbench's result table: rows of numbers under the "Block Size (B)"
 * header — block, batch, B/W, [aggregate B/W, network util (more than two
 * ranks)], avg latency, then prep/post/tx avg and p99.
 */
export function parseNixlbench(output: string): NixlbenchRow[] {
  const rows: NixlbenchRow[] = [];
  let wide = false;
  for (const line of output.split('\n')) {
    if (line.includes('Block Size (B)')) {
      wide = line.includes('Aggregate B/W');
      continue;
    }
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !f.every((t) => /^-?\d+(\.\d+)?(e[-+]?\d+)?$/i.test(t))) continue;
    const v = f.map(Number);
    rows.push({ blockSize: v[0]!, batch: v[1]!, gbps: v[2]!, avgLatUs: v[wide ? 5 : 3]! });
  }
  return rows;
}

/** The sweep's block sizes at one batch size. */
function blocksAt(s: SweepConfig, batch: number): number[] {
  return s.cells.filter((c) => c.batch === batch).map((c) => c.blockSize);
}

/** nixlbench's arguments for one op and batch size of the sweep (ASIO runtime: no etcd). */
export function nixlbenchArgs(
  s: SweepConfig,
  op: Op,
  batch: number,
  port: number,
  backend: string,
): string[] {
  const blocks = blocksAt(s, batch);
  const maxBlock = Math.max(...blocks);
  const args = [
    '--runtime_type',
    'ASIO',
    '--asio_address',
    '127.0.0.1',
    '--asio_port',
    String(port),
    '--backend',
    backend,
    '--initiator_seg_type',
    'DRAM',
    '--target_seg_type',
    'DRAM',
    '--op_type',
    op,
    '--start_block_size',
    String(Math.min(...blocks)),
    '--max_block_size',
    String(maxBlock),
    '--start_batch_size',
    String(batch),
    '--max_batch_size',
    String(batch),
    '--num_iter',
    String(s.iterations),
    '--warmup_iter',
    String(s.warmup),
    '--large_blk_iter_ftr',
    String(s.largeBlockFactor),
    '--total_buffer_size',
    String(Math.max(64 * 1024 * 1024, 2 * maxBlock * batch * s.depth)),
  ];
  if (s.prepared) args.push('--prepared_xfer');
  if (s.recreate) args.push('--recreate_xfer');
  if (s.depth > 1) args.push('--pipeline_depth', String(s.depth));
  if (s.check) args.push('--check_consistency');
  return args;
}

/**
 * Runs an installed nixlbench (two ranks on 127.0.0.1) over the sweep's
 * blocks for each op and batch, and attaches its rows to the matching cells.
 */
export async function compareNixlbench(
  path: string,
  sweep: SweepConfig,
  cells: CellResult[],
  opts: { backend: string; ucxTls: string },
): Promise<string[]> {
  const notes: string[] = [];
  const env: NodeJS.ProcessEnv = { UCX_TLS: opts.ucxTls, UCX_NET_DEVICES: 'lo' };
  for (const op of sweep.ops) {
    for (const batch of [...new Set(sweep.cells.map((c) => c.batch))]) {
      const port = await freePort('127.0.0.1');
      const args = nixlbenchArgs(sweep, op, batch, port, opts.backend);
      const timeoutMs = 600_000;
      // The first rank to start serves the ASIO rendezvous; the second joins it.
      const first = runTool(path, args, { env, timeoutMs });
      await new Promise((r) => setTimeout(r, 1000));
      const second = runTool(path, args, { env, timeoutMs });
      const [a, b] = await Promise.all([first, second]);
      const rows = [...parseNixlbench(a.stdout), ...parseNixlbench(b.stdout)];
      if (rows.length === 0) {
        const why = (a.stderr || a.stdout || b.stderr).trim().split('\n').slice(-2).join(' ');
        notes.push(
          `nixlbench ${op} batch ${batch} gave no results (exit ${a.code}/${b.code}): ${why.slice(0, 300)}`,
        );
        continue;
      }
      for (const cell of cells) {
        if (cell.op !== op || cell.batch !== batch) continue;
        const row = rows.find((r) => r.blockSize === cell.blockSize && r.batch === batch);
        if (!row) continue;
        cell.compare.nixlbench = {
          gbps: row.gbps,
          ratio: cell.gbps / row.gbps,
          avgLatUs: row.avgLatUs,
          note: `nixlbench --backend ${opts.backend}, UCX_TLS=${opts.ucxTls}`,
        };
      }
    }
  }
  return notes;
}
