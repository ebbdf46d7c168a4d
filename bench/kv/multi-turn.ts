/**
 * Multi-turn chat through the KV block manager: N conversations × T turns,
 * each turn's prompt the whole history plus a new message, replayed
 * round-robin (every conversation's turn t, then every turn t+1), so that a
 * conversation's prefix has been pushed down the tiers by the others by the
 * time it returns. Each request onboards its cached prefix and "computes" the
 * rest (writes each missed block's bytes into the top tier and puts it).
 *
 * Tiers: this process's DRAM, then a peer process's DRAM over TCP on
 * 127.0.0.1, then a FILE tier (a temporary file, through the POSIX backend)
 * and an OBJ tier (one object a slot on an s3rver started on 127.0.0.1)
 * when this build has them. Every onboarded block is checked against the
 * bytes it was stored with.
 *
 * Reported per tier: hit rate, onboarding GB/s (transfer time only), the
 * reference on the same bytes in the same run (memcpy for DRAM tiers, `dd` on
 * the tier's own file for FILE, the S3 client's GETs for OBJ), and the time to restore a conversation's
 * final prefix from the tier against recomputing it at `--prefill-tps`.
 *
 *   npx tsx bench/kv/multi-turn.ts [--conversations 6 --turns 4 --turn-tokens 128 ...]
 */
import '../../src/polyfills.js';

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { Agent } from '../../src/agent.js';
import { KvBlockManager, prefixBlockHashes, type KvTierSpec } from '../../src/kv/index.js';
import { PeerProcess } from '../../testing/peer-harness.js';

const { values: args } = parseArgs({
  options: {
    conversations: { type: 'string', default: '6' },
    turns: { type: 'string', default: '4' },
    'turn-tokens': { type: 'string', default: '128' },
    'block-tokens': { type: 'string', default: '16' },
    // DeepSeek-V3's MLA cache in bf16: 61 layers × (512 + 64) values × 2 bytes per token,
    // the model whose prefill rate is the default below.
    'kv-bytes-per-token': { type: 'string', default: String(61 * 576 * 2) },
    'dram-blocks': { type: 'string', default: '32' },
    'peer-blocks': { type: 'string', default: '48' },
    'file-blocks': { type: 'string', default: '64' },
    'obj-blocks': { type: 'string', default: '96' },
    file: { type: 'string', default: 'auto' }, // auto | on | off
    obj: { type: 'string', default: 'auto' }, // auto | on | off: an s3rver on 127.0.0.1
    // SGLang on 12 × 8 H100 (PD disaggregation, large-scale EP), DeepSeek-V3, 2000-token inputs:
    // 52.3k input tokens/s per node (LMSYS blog, 2025-05-05, "Deploying DeepSeek with PD
    // Disaggregation and Large-scale Expert Parallelism on 96 H100 GPUs").
    'prefill-tps': { type: 'string', default: '52300' },
    'max-seconds': { type: 'string', default: '60' },
    // The TCP backend's same-host path (process_vm_readv/writev) or, with off, its socket.
    'same-host': { type: 'string', default: 'auto' },
  },
});

function int(name: keyof typeof args): number {
  const v = Number(args[name]);
  if (!Number.isSafeInteger(v) || v <= 0)
    throw new Error(`--${name}: a positive integer, got ${String(args[name])}`);
  return v;
}

const N = int('conversations');
const T = int('turns');
const TURN_TOKENS = int('turn-tokens');
const BLOCK_TOKENS = int('block-tokens');
const BYTES_PER_TOKEN = int('kv-bytes-per-token');
const BB = BLOCK_TOKENS * BYTES_PER_TOKEN;
const PREFILL_TPS = Number(args['prefill-tps']);
const DEADLINE = performance.now() + int('max-seconds') * 1000;
const PARAMS = {
  port: '0',
  timeout_ms: '10000',
  connect_timeout_ms: '5000',
  same_host: String(args['same-host']),
};

/** A block's bytes: its hash's digest repeated, so any block can be regenerated and compared. */
function blockBytes(hash: string, out: Buffer): Buffer {
  return out.fill(createHash('sha256').update(hash).update('kv').digest());
}

/** Conversation c's tokens: deterministic, distinct per conversation. */
function conversationTokens(c: number): Uint32Array {
  const t = new Uint32Array(T * TURN_TOKENS);
  let x = (c + 1) * 2654435761;
  for (let i = 0; i < t.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    t[i] = x % 128000;
  }
  return t;
}

function gbps(bytes: number, ms: number): number {
  return ms > 0 ? bytes / 1e6 / ms : NaN;
}
function fmt(v: number, d = 2): string {
  return Number.isFinite(v) ? v.toFixed(d) : '—';
}

async function main(): Promise<void> {
  const name = `mt-${process.pid}`;
  const plugins = new Set<string>();
  const probe = await Agent.create({ name: `${name}-probe` });
  for (const p of probe.getAvailPlugins()) plugins.add(p);
  await probe.close();
  const wantFile = args.file === 'on' || (args.file === 'auto' && plugins.has('POSIX'));
  if (args.file === 'on' && !plugins.has('POSIX'))
    throw new Error('--file on: no POSIX backend in this build');

  const s3 = args.obj === 'off' || !plugins.has('OBJ') ? undefined : await loadS3();
  if (args.obj === 'on' && !s3) throw new Error('--obj on: no OBJ backend or S3 test server here');
  const server = s3 ? await s3.S3Server.start({ buckets: [OBJ_BUCKET] }) : undefined;

  const agent = await Agent.create({
    name,
    backends: [
      { type: 'TCP', params: PARAMS },
      ...(wantFile ? [{ type: 'POSIX', params: {} }] : []),
      ...(server ? [{ type: 'OBJ', params: server.params(OBJ_BUCKET) }] : []),
    ],
  });
  const peer = new PeerProcess();
  let dir: string | undefined;
  let fd: number | undefined;
  let mgr: KvBlockManager | undefined;
  try {
    const peerBlocks = int('peer-blocks');
    const r = await peer.send(
      {
        cmd: 'init',
        backend: 'TCP',
        params: PARAMS,
        plugins: [],
        size: peerBlocks * BB,
        name: `${name}-peer`,
      },
      30_000,
    );
    if (r.error) throw new Error(r.error);
    const peerName = agent.loadRemoteMD(Buffer.from(r.md as string, 'base64'));
    const tiers: KvTierSpec[] = [
      { name: 'dram', capacity: int('dram-blocks') },
      {
        name: 'peer-dram',
        agent: peerName,
        regions: [{ addr: BigInt(r.addr as string), len: r.len as number }],
      },
    ];
    let filePath: string | undefined;
    if (wantFile) {
      dir = mkdtempSync(join(tmpdir(), 'nixl-kv-mt-'));
      filePath = join(dir, 'tier');
      fd = openSync(filePath, 'w+');
      const len = int('file-blocks') * BB;
      ftruncateSync(fd, len);
      agent.registerMem([{ addr: 0n, len, devId: fd }], { memType: 'FILE' });
      tiers.push({
        name: 'file',
        memType: 'FILE',
        agent: agent.name,
        regions: [{ addr: 0n, len, devId: fd }],
      });
    }
    const objKey = (i: number) => `kv-mt/${process.pid}/${i}`;
    if (server) {
      // One object a slot: devId i + 1, its key as metaInfo (the OBJ backend's convention).
      const regions = Array.from({ length: int('obj-blocks') }, (_, i) => ({
        addr: 0n,
        len: BB,
        devId: i + 1,
        metaInfo: Buffer.from(objKey(i)),
      }));
      agent.registerMem(regions, { memType: 'OBJ' });
      tiers.push({ name: 'obj', memType: 'OBJ', agent: agent.name, regions });
    }
    mgr = KvBlockManager.create(agent, { blockBytes: BB, tiers });

    // ------------------------------------------------------------- replay
    const scratch = Buffer.allocUnsafe(BB);
    const want = Buffer.allocUnsafe(BB);
    const convTokens = Array.from({ length: N }, (_, c) => conversationTokens(c));
    const asked = { blocks: 0, computed: 0 };
    let requests = 0;
    let onboardMs = 0;
    let stoppedEarly = false;
    const t0 = performance.now();
    replay: for (let t = 0; t < T; t++) {
      for (let c = 0; c < N; c++) {
        if (performance.now() > DEADLINE) {
          stoppedEarly = true;
          break replay;
        }
        const prompt = convTokens[c]!.subarray(0, (t + 1) * TURN_TOKENS);
        const hashes = prefixBlockHashes(prompt, BLOCK_TOKENS);
        const s0 = performance.now();
        const got = await mgr.onboard(hashes);
        const ms = performance.now() - s0;
        onboardMs += ms;
        requests++;
        asked.blocks += hashes.length;
        for (let i = 0; i < got.blocks; i++) {
          if (Buffer.compare(mgr.view(hashes[i]!), blockBytes(hashes[i]!, want)) !== 0)
            throw new Error(`conversation ${c} turn ${t}: block ${i} came back with other bytes`);
        }
        for (let i = got.blocks; i < hashes.length; i++) {
          await mgr.put(hashes[i]!, i ? hashes[i - 1]! : null, blockBytes(hashes[i]!, scratch));
          asked.computed++;
        }
      }
    }
    const wallMs = performance.now() - t0;
    const stats = mgr.stats();

    // ------------------------------------------------- restore probes
    // Per lower tier: onboard up to a final prefix's worth of blocks that live there (the
    // evictions that make room included), timed by the wall clock and checked.
    const finalBlocks = Math.floor((T * TURN_TOKENS) / BLOCK_TOKENS);
    const everyBlock = convTokens.flatMap((tok) => prefixBlockHashes(tok, BLOCK_TOKENS));
    const probes = new Map<string, { blocks: number; ms: number }>();
    for (const t of stats.tiers.slice(1)) {
      const there = everyBlock.filter((h) => mgr!.locate(h)?.tier === t.name);
      const k = Math.min(finalBlocks, stats.tiers[0]!.capacity, there.length);
      if (k === 0) continue;
      const p0 = performance.now();
      const got = await mgr.onboard(there.slice(0, k));
      const ms = performance.now() - p0;
      for (let i = 0; i < got.blocks; i++)
        if (Buffer.compare(mgr.view(there[i]!), blockBytes(there[i]!, want)) !== 0)
          throw new Error(`restore probe from ${t.name}: block ${i} came back with other bytes`);
      probes.set(t.name, { blocks: got.blocks, ms });
    }

    // --------------------------------------------------------- references
    // memcpy of 64 MiB in this process, best of 5 after a warm-up copy (the machine is shared).
    const src = Buffer.alloc(64 << 20, 1);
    const dst = Buffer.alloc(src.length);
    src.copy(dst);
    let bestMs = Infinity;
    for (let k = 0; k < 5; k++) {
      const m0 = performance.now();
      src.copy(dst);
      bestMs = Math.min(bestMs, performance.now() - m0);
    }
    const memcpyGBps = gbps(src.length, bestMs);
    let ddGBps = NaN;
    let ddLine = '';
    if (filePath) {
      // The same file, the same block size, through the page cache as the tier's reads were.
      const res = ddRun(filePath, BB, int('file-blocks'));
      ddGBps = res.gbps;
      ddLine = res.line;
    }

    // The object tier's reference: the S3 client's own GETs of the objects the tier wrote.
    let getGBps = NaN;
    const objStats = stats.tiers.find((t) => t.memType === 'OBJ');
    if (server && s3 && objStats && objStats.in.blocks > 0) {
      const c = s3.s3Client(server);
      const n = Math.min(objStats.in.blocks, objStats.capacity, 32);
      const g0 = performance.now();
      let bytes = 0;
      for (let i = 0; i < n; i++)
        bytes += (await s3.getObject(c, OBJ_BUCKET, objKey(i))).byteLength;
      getGBps = gbps(bytes, performance.now() - g0);
      c.destroy();
    }

    // ------------------------------------------------------------- report
    const finalTokens = T * TURN_TOKENS;
    const finalBytes = finalBlocks * BB;
    const recomputeMs = (finalTokens / PREFILL_TPS) * 1000;
    console.log(
      `# multi-turn: ${N} conversations × ${T} turns, +${TURN_TOKENS} tokens a turn, ` +
        `${BLOCK_TOKENS} tokens a block, ${BYTES_PER_TOKEN} B/token → ${(BB / 2 ** 20).toFixed(2)} MiB a block` +
        (stoppedEarly ? ` (stopped at --max-seconds after ${requests} requests)` : ''),
    );
    console.log(
      `# ${new Date().toISOString()}, ${cpus().length} CPUs, load ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}; ${requests} requests in ${(wallMs / 1000).toFixed(2)} s; ` +
        `${asked.blocks} blocks asked, ${asked.computed} computed (missed), ${stats.misses} misses counted by the manager`,
    );
    console.log(
      `# recompute at ${PREFILL_TPS} prefill tokens/s (SGLang, DeepSeek-V3, 8×H100 node, LMSYS 2025-05-05); ` +
        `final prefix ${finalTokens} tokens = ${(finalBytes / 2 ** 20).toFixed(1)} MiB of KV`,
    );
    console.log('');
    console.log(
      '| tier | capacity | used | hits | hit rate | onboard GB/s (transfer) | reference GB/s, same run | offload into tier GB/s | dropped | errors | restore final prefix ms: transfer / wall | recompute ms |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const [i, t] of stats.tiers.entries()) {
      const ob = gbps(t.onboard.bytes, t.onboard.ms);
      const ref =
        t.memType === 'FILE'
          ? `dd ${fmt(ddGBps)}`
          : t.memType === 'OBJ'
            ? `S3 GetObject ${fmt(getGBps)}`
            : `memcpy ${fmt(memcpyGBps)}`;
      // Wall: a restore probe's time per block (evictions that made room included), scaled
      // to the final prefix.
      const probe = probes.get(t.name);
      const wall = probe ? (probe.ms / probe.blocks) * finalBlocks : NaN;
      const restore =
        i === 0
          ? '0 (resident)'
          : `${fmt(finalBytes / 1e6 / ob, 1)} / ${fmt(wall, 1)}${probe ? ` (${probe.blocks} blocks probed)` : ''}`;
      console.log(
        `| ${t.name} | ${t.capacity} | ${t.used} | ${t.hits} | ${fmt((100 * t.hits) / asked.blocks, 1)}% | ` +
          `${i === 0 ? '—' : fmt(ob)} | ${ref} | ${i === 0 ? '—' : fmt(gbps(t.in.bytes, t.in.ms))} | ` +
          `${t.dropped} | ${t.errors} | ${restore} | ${fmt(recomputeMs, 1)} |`,
      );
    }
    console.log(
      `| (miss: computed) | | | ${asked.computed} | ${fmt((100 * asked.computed) / asked.blocks, 1)}% | | | | | | | ${fmt(recomputeMs, 1)} |`,
    );
    console.log('');
    console.log(
      `# onboard wall time, all requests: ${fmt(onboardMs, 1)} ms (includes evictions made to make room)` +
        (ddLine ? `; dd: ${ddLine}` : '; no FILE tier in this build (no POSIX backend)'),
    );
  } finally {
    mgr?.close();
    await agent.close();
    await peer.close();
    if (fd !== undefined) closeSync(fd);
    if (dir) rmSync(dir, { recursive: true, force: true });
    await server?.stop();
  }
}

const OBJ_BUCKET = 'nixl-kv-mt';

// The S3-API test server (s3rver) and client helpers come with the OBJ backend (test/s3);
// loaded by a computed name so that the benchmark runs without them.
interface S3ServerLike {
  params(bucket: string): Record<string, string>;
  stop(): Promise<void>;
}
interface S3Helpers {
  S3Server: { start(opts: { buckets: string[] }): Promise<S3ServerLike> };
  s3Client(server: S3ServerLike): { destroy(): void };
  getObject(c: unknown, bucket: string, key: string): Promise<Uint8Array>;
}
async function loadS3(): Promise<S3Helpers | undefined> {
  try {
    const names = ['../../test/s3/s3-server.js', '../../test/s3/s3-objects.js'];
    const [a, b] = await Promise.all(names.map((n) => import(n) as Promise<object>));
    return { ...a, ...b } as S3Helpers;
  } catch {
    return undefined;
  }
}

/** dd's own figure for reading the file, parsed from its summary line. */
function ddRun(path: string, bs: number, count: number): { gbps: number; line: string } {
  const r = spawnSync('dd', [`if=${path}`, 'of=/dev/null', `bs=${bs}`, `count=${count}`], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`dd failed (${String(r.status ?? r.signal)}): ${r.stderr}`);
  // "N bytes (…) copied, S s, R GB/s"
  const line = r.stderr.trim().split('\n').at(-1) ?? '';
  const m = /^(\d+) bytes.*copied, ([\d.]+) s/.exec(line);
  if (!m) throw new Error(`dd: no summary line in: ${r.stderr}`);
  return { gbps: Number(m[1]) / 1e9 / Number(m[2]), line };
}

await main();
