/**
 * READ/WRITE GB/s of the POSIX backend (FILE memory) beside fio on the same
 * file, in the same run, block sizes 4 KiB .. 16 MiB.
 *
 *   npx tsx bench/storage/file.ts [--api auto|uring|pool] [--direct] [--depth 32]
 *       [--batch 1] [--total-mib 256] [--blocks 4k,64k,1m,16m] [--dir DIR] [--cell-ms 3000]
 *
 * Each cell moves `--total-mib` (at most `--cell-ms` of timed loop) in
 * requests of `--batch` blocks (one descriptor each), `--depth` requests in
 * flight, reposted as soon as getXferStatus reads DONE (nixlbench's loop,
 * its batch size). fio runs the same pattern on
 * the same file: ioengine=io_uring, the same block size and iodepth,
 * buffered unless --direct (then both use O_DIRECT and bypass the page
 * cache). Buffered READs are served from the page cache on both sides
 * (fio with --invalidate=0, so it does not drop the cache first).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { Agent, DescList, type XferRequest } from '../../src/index.js';

const { values: o } = parseArgs({
  options: {
    api: { type: 'string', default: 'auto' },
    direct: { type: 'boolean', default: false },
    depth: { type: 'string', default: '32' },
    batch: { type: 'string', default: '1' },
    'total-mib': { type: 'string', default: '256' },
    blocks: { type: 'string', default: '4k,64k,1m,16m' },
    dir: { type: 'string', default: process.cwd() },
    'cell-ms': { type: 'string', default: '3000' },
  },
});

const size = (s: string) => {
  const m = /^(\d+)([kmg]?)$/i.exec(s.trim());
  if (!m) throw new Error(`bad size '${s}'`);
  return Number(m[1]) * { '': 1, k: 1024, m: 1 << 20, g: 1 << 30 }[m[2]!.toLowerCase()]!;
};
const blocks = o.blocks.split(',').map(size);
const depth = Number(o.depth);
const batch = Number(o.batch);
const total = Number(o['total-mib']) << 20;
const cellMs = Number(o['cell-ms']);
const fmt = (bps: number) => (bps / 1e9).toFixed(2);

const dir = mkdtempSync(join(o.dir, '.nixl-bench-file-'));
const path = join(dir, 'data');
const fd = openSync(path, 'w+');
ftruncateSync(fd, total);

const agent = await Agent.create({
  name: `bench-file-${process.pid}`,
  backends: [{ type: 'POSIX', params: { api_type: o.api, o_direct: String(o.direct) } }],
});
const api = (agent.backends[0] as unknown as { api: string }).api;
const maxBlock = Math.max(...blocks);
const mem = agent.alloc(maxBlock * depth * batch).buffer;
mem.fill(0x5a);
const memBase = agent.registerMem(mem).descs.at(0).addr;
const devId = 1;
agent.registerMem([{ addr: 0, len: total, devId, metaInfo: new TextEncoder().encode(path) }], {
  memType: 'FILE',
});

/** nixl-ts: bytes/s moving `total` bytes in one-block requests, `depth` in flight. */
function ours(op: 'READ' | 'WRITE', bs: number): number {
  const per = bs * batch; // bytes per request
  const requestsToRun = Math.floor(total / per);
  const n = Math.min(depth, requestsToRun);
  const reqs: XferRequest[] = [];
  for (let i = 0; i < n; i++) {
    // Request i moves `batch` consecutive blocks of the file from [i * per).
    const mems = [];
    const files = [];
    for (let j = 0; j < batch; j++) {
      mems.push({ addr: memBase + BigInt(i * per + j * bs), len: bs, devId: 0 });
      files.push({ addr: BigInt(i * per + j * bs), len: bs, devId });
    }
    reqs.push(agent.createXferReq(op, mems, DescList.from('FILE', files), agent.name));
  }
  let posted = 0;
  let done = 0;
  const t0 = process.hrtime.bigint();
  const deadline = t0 + BigInt(cellMs) * 1_000_000n;
  for (const r of reqs) {
    agent.postXferReq(r);
    posted++;
  }
  const active = new Set(reqs);
  while (active.size > 0) {
    for (const r of active) {
      if (agent.getXferStatus(r) !== 'DONE') continue;
      done++;
      if (posted < requestsToRun && process.hrtime.bigint() < deadline) {
        agent.postXferReq(r); // a DONE inside the post is read on the next round
        posted++;
      } else {
        active.delete(r);
      }
    }
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  for (const r of reqs) r.release();
  return (done * per) / secs;
}

/** fio on the same file, same block size and depth. */
function fio(op: 'READ' | 'WRITE', bs: number): number {
  const out = execFileSync(
    'fio',
    [
      '--name=cell',
      `--filename=${path}`,
      `--rw=${op === 'READ' ? 'read' : 'write'}`,
      `--bs=${bs}`,
      `--size=${total}`,
      '--ioengine=io_uring',
      `--iodepth=${depth * batch}`,
      `--direct=${o.direct ? 1 : 0}`,
      // fio drops the file's page cache before a job by default; nixl-ts does not.
      '--invalidate=0',
      `--runtime=${Math.ceil(cellMs / 1000)}`,
      '--output-format=json',
    ],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  const job = JSON.parse(out).jobs[0];
  return (op === 'READ' ? job.read : job.write).bw_bytes as number;
}

let fioVersion = 'absent';
try {
  fioVersion = execFileSync('fio', ['--version'], { encoding: 'utf8' }).trim();
} catch {
  // reported below
}
console.log(
  `POSIX backend (api ${api}${o.direct ? ', O_DIRECT' : ', buffered'}) vs ${fioVersion}` +
    ` on ${path}: ${o['total-mib']} MiB per cell, ${depth} requests of ${batch} block(s) in flight` +
    ` (fio iodepth ${depth * batch}); ${cpus().length} CPUs, load ${loadavg()[0]!.toFixed(2)}`,
);
console.log('| block | op | nixl-ts GB/s | fio GB/s | nixl-ts / fio |');
console.log('| ---: | --- | ---: | ---: | ---: |');
try {
  for (const op of ['WRITE', 'READ'] as const) {
    for (const bs of blocks) {
      const a = ours(op, bs);
      const f = fioVersion === 'absent' ? NaN : fio(op, bs);
      const label = bs >= 1 << 20 ? `${bs >> 20} MiB` : `${bs >> 10} KiB`;
      console.log(`| ${label} | ${op} | ${fmt(a)} | ${fmt(f)} | ${(a / f).toFixed(2)} |`);
    }
  }
} finally {
  await agent.close();
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
}
