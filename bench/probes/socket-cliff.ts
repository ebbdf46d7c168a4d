/**
 * Interleaved A/B of TCP socket-path variants (backend params) at a few block
 * sizes, in one process and the same minutes: each variant gets its own
 * target process (nixl-ts-bench's, with the same params) and initiator agent,
 * and every round runs each variant's cells in turn (the order rotating per
 * round), so load that comes and goes on a shared machine hits all variants
 * alike. The loop is nixlbench's (post, then read getXferStatus until DONE,
 * letting the event loop turn after 1 ms without a completion, as the CLI's
 * poll loop does). Prints the median µs and GB/s per variant and cell.
 *
 *   npx tsx bench/probes/socket-cliff.ts --op READ --sizes 1M,2M,4M --rounds 7 \
 *     --variants '{"base":{},"stripe2m":{"stripe_min_bytes":"2097152"}}'
 */
import { parseArgs } from 'node:util';
import { setImmediate as nextTurn } from 'node:timers/promises';

import '../../src/polyfills.js';
import { Agent, type XferRequest } from '../../src/index.js';
import { parseBytes } from '../cli/sizes.js';
import { startCliTarget, type CliTarget } from './cli-target.js';

const { values: args } = parseArgs({
  options: {
    op: { type: 'string', default: 'READ' },
    sizes: { type: 'string', default: '1M,2M,4M' },
    rounds: { type: 'string', default: '5' },
    // Bytes each cell moves per round (iterations = bytes / size, 10 at least).
    bytes: { type: 'string', default: '256M' },
    variants: { type: 'string', default: '{"base":{}}' },
    json: { type: 'boolean', default: false },
  },
});
const OP = args.op === 'WRITE' ? 'WRITE' : 'READ';
const size = (text: string): number => {
  const n = parseBytes(text);
  if (n === undefined || n <= 0) throw new Error(`not a size: ${text}`);
  return n;
};
const SIZES = args.sizes!.split(',').map(size);
const ROUNDS = Number(args.rounds);
const BYTES = size(args.bytes!);
const VARIANTS = JSON.parse(args.variants!) as Record<string, Record<string, string>>;
const MAX = Math.max(...SIZES);

interface Side {
  name: string;
  agent: Agent;
  target: CliTarget;
  reqs: Map<number, XferRequest>;
}

async function open(name: string, params: Record<string, string>): Promise<Side> {
  const all = { same_host: 'off', ...params };
  const agent = await Agent.create({
    name: `cliff-${name}-${process.pid}`,
    backends: [{ type: 'TCP', params: all }],
  });
  const local = agent.registerMem(agent.alloc(MAX).buffer).descs.at(0)!;
  const target = await startCliTarget('TCP', all, MAX);
  agent.loadRemoteMD(target.md);
  const reqs = new Map<number, XferRequest>();
  for (const size of SIZES) {
    const req = agent.createXferReq(
      OP,
      [{ addr: local.addr, len: size }],
      [{ addr: target.addr, len: size }],
      target.name,
    );
    reqs.set(size, req);
  }
  const first = reqs.get(SIZES[0]!)!;
  agent.postXferReq(first); // connects
  await first.wait();
  return { name, agent, target, reqs };
}

/** µs per transfer over `n` transfers, polled as nixlbench polls. */
async function loop(agent: Agent, req: XferRequest, n: number): Promise<number> {
  const t0 = performance.now();
  let quietSince = t0;
  let rounds = 0;
  for (let i = 0; i < n; i++) {
    if (agent.postXferReq(req) === 'DONE') continue;
    while (agent.getXferStatus(req) !== 'DONE') {
      if (++rounds % 256 !== 0) continue;
      if (performance.now() - quietSince >= 1) {
        await nextTurn();
        quietSince = performance.now();
      }
    }
    quietSince = performance.now();
  }
  return ((performance.now() - t0) * 1000) / n;
}

const sides: Side[] = [];
for (const [name, params] of Object.entries(VARIANTS)) sides.push(await open(name, params));
const us = new Map<string, number[]>();
// A throwaway cell per side first (a process's first cell is slow).
for (const s of sides) await loop(s.agent, s.reqs.get(SIZES[0]!)!, 50);
for (let r = 0; r < ROUNDS; r++) {
  for (let k = 0; k < sides.length; k++) {
    const s = sides[(k + r) % sides.length]!;
    for (const size of SIZES) {
      const req = s.reqs.get(size)!;
      const n = Math.max(10, Math.floor(BYTES / size));
      await loop(s.agent, req, Math.max(3, n >> 4)); // warm-up
      const key = `${s.name} ${size}`;
      us.set(key, [...(us.get(key) ?? []), await loop(s.agent, req, n)]);
    }
  }
}
const median = (v: number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1]!;
const rows = [];
for (const size of SIZES) {
  for (const s of sides) {
    const v = us.get(`${s.name} ${size}`)!;
    const m = median(v);
    rows.push({
      op: OP,
      size,
      variant: s.name,
      medianUs: +m.toFixed(1),
      gbps: +(size / m / 1000).toFixed(3),
      runs: v.map((x) => +(size / x / 1000).toFixed(2)),
    });
  }
}
if (args.json) console.log(JSON.stringify(rows));
else
  for (const r of rows)
    console.log(
      `${r.op} ${String(r.size).padStart(9)} ${r.variant.padEnd(14)} ${String(r.medianUs).padStart(8)} µs ${r.gbps.toFixed(3)} GB/s  runs ${r.runs.join(' ')}`,
    );
for (const s of sides) {
  for (const req of s.reqs.values()) req.release();
  await s.target.stop();
  await s.agent.close();
}
