/**
 * What one `loadRemoteMD` of a TCP agent's metadata costs the loader, and one
 * `invalidateRemoteMD` (issue #18: a 128-agent start loads 127 members per
 * agent, a 10,000-member cluster 9,999). Per operation: µs of wall-clock, µs
 * of process CPU (the main thread plus the engine's I/O thread it wakes), and
 * µs by thread (main, V8's and libuv's helpers, the engine's I/O thread); for a loader that already holds PRELOAD peers
 * (1 and 127 by default).
 *
 * The metadata comes from agents created here and closed before anything is
 * timed: the loader's TCP engine is the only one running, so the process CPU
 * is the loader's. Loading needs no connection (the TCP backend connects on
 * first transfer).
 *
 * Checked before timing, else exit 1: a live peer loaded the same way gets a
 * WRITE whose bytes arrive (so the engine knows the peer and authenticates it),
 * and after each timed batch every loaded peer is known to the agent
 * (`checkRemoteMD`), and none after its invalidation.
 *
 * One batch: BATCH loads of distinct peers, back to back (as the gossip plugin
 * loads the records of one turn), then a pause of SETTLE_MS (the I/O thread's
 * share lands in it and is counted), then the BATCH invalidations and the same
 * pause. ROUNDS batches per preload; the median batch is reported.
 *
 * Run: npx tsx bench/micro/load-md.ts [--json]
 * (env: PRELOAD=1,127 BATCH=64 ROUNDS=15 SETTLE_MS=300; 3 batches of warm-up per preload)
 */
import { Agent } from '../../src/agent.js';
import { splitSince, threadCpuMs } from '../discovery/thread-cpu.js';

const json = process.argv.includes('--json');
const preloads = (process.env.PRELOAD ?? '1,127').split(',').map(Number);
const BATCH = Number(process.env.BATCH ?? 64);
const ROUNDS = Number(process.env.ROUNDS ?? 15);
const SETTLE_MS = Number(process.env.SETTLE_MS ?? 300);
const WARMUP = 3; // batches per preload not counted (V8 compiles the load path meanwhile)
const params = { same_host: 'off' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fail(what: string): never {
  process.stderr.write(`load-md: check failed: ${what}\n`);
  process.exit(1);
}

function processUs(): number {
  const c = process.cpuUsage();
  return c.user + c.system;
}

/** Metadata of `n` TCP agents, each closed once it gave its metadata. */
async function metadataOf(prefix: string, n: number): Promise<{ name: string; md: Uint8Array }[]> {
  const out: { name: string; md: Uint8Array }[] = [];
  for (let i = 0; i < n; i++) {
    const a = await Agent.create({ name: `${prefix}${i}`, backends: [{ type: 'TCP', params }] });
    out.push({ name: a.name, md: a.getLocalMD() });
    await a.close();
  }
  return out;
}

const helperThreads = new Set(threadCpuMs().keys());
const loader = await Agent.create({ name: 'loader', backends: [{ type: 'TCP', params }] });

// Before timing: a peer loaded this way is reachable and authenticated.
{
  const peer = await Agent.create({ name: 'live-peer', backends: [{ type: 'TCP', params }] });
  const dst = peer.alloc(4096).buffer;
  const dstReg = peer.registerMem(dst);
  const src = loader.alloc(4096).buffer;
  const srcReg = loader.registerMem(src);
  for (let i = 0; i < src.length; i++) src[i] = (i * 7 + 3) & 0xff;
  peer.loadRemoteMD(loader.getLocalMD());
  await sleep(SETTLE_MS); // the loader's engine asleep, as in the timed batches
  loader.loadRemoteMD(peer.getLocalMD());
  await loader.write(srcReg.descs, dstReg.descs, peer.name);
  if (!Buffer.from(dst).equals(Buffer.from(src))) fail('a WRITE to a freshly loaded peer');
  loader.invalidateRemoteMD(peer.name);
  await peer.close();
}

const fresh = await metadataOf('fresh', BATCH);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Row {
  preload: number;
  op: 'load' | 'invalidate';
  wallUs: number;
  processCpuUs: number;
  mainCpuUs: number;
  helpersCpuUs: number;
  engineCpuUs: number;
}
const rows: Row[] = [];
let preloaded = 0;
for (const preload of preloads) {
  for (const p of await metadataOf(`pre${preload}-`, preload - preloaded))
    loader.loadRemoteMD(p.md);
  preloaded = preload;
  if (loader.remoteAgents.length !== preload) fail(`${preload} peers preloaded`);
  const samples = { load: [] as number[][], invalidate: [] as number[][] };
  for (let r = -WARMUP; r < ROUNDS; r++) {
    await sleep(SETTLE_MS);
    for (const op of ['load', 'invalidate'] as const) {
      const p0 = processUs();
      const th0 = threadCpuMs();
      const t0 = performance.now();
      if (op === 'load') for (const f of fresh) loader.loadRemoteMD(f.md);
      else for (const f of fresh) loader.invalidateRemoteMD(f.name);
      const wall = (performance.now() - t0) * 1000;
      await sleep(SETTLE_MS);
      const th = splitSince(th0, threadCpuMs(), helperThreads);
      const proc = processUs() - p0;
      for (const f of fresh) {
        if (loader.checkRemoteMD(f.name) !== (op === 'load')) fail(`${f.name} after ${op}`);
      }
      if (r >= 0)
        samples[op].push(
          [wall, proc, th.main * 1e3, th.helpers * 1e3, th.started * 1e3].map((x) => x / BATCH),
        );
    }
  }
  for (const op of ['load', 'invalidate'] as const) {
    const s = samples[op];
    rows.push({
      preload,
      op,
      wallUs: median(s.map((x) => x[0])),
      processCpuUs: median(s.map((x) => x[1])),
      mainCpuUs: median(s.map((x) => x[2])),
      helpersCpuUs: median(s.map((x) => x[3])),
      engineCpuUs: median(s.map((x) => x[4])),
    });
  }
}
await loader.close();

if (json) {
  console.log(JSON.stringify({ batch: BATCH, rounds: ROUNDS, settleMs: SETTLE_MS, rows }));
} else {
  console.log(
    `per operation, median of ${ROUNDS} batches of ${BATCH} (µs; CPU includes ${SETTLE_MS} ms settle)`,
  );
  console.log('preload  op           wall  process   main  helpers  engine  (CPU by thread)');
  const f = (x: number, w: number) => x.toFixed(1).padStart(w);
  for (const r of rows) {
    console.log(
      `${String(r.preload).padStart(7)}  ${r.op.padEnd(10)} ${f(r.wallUs, 6)} ${f(r.processCpuUs, 8)} ` +
        `${f(r.mainCpuUs, 6)} ${f(r.helpersCpuUs, 8)} ${f(r.engineCpuUs, 7)}`,
    );
  }
}
