/**
 * etcd scale benchmark: the time from start until every agent has loaded
 * every other agent's metadata through one etcd, and what that cost etcd, for
 * 32 and 128 agents. All on 127.0.0.1 (no root, no emulated hosts): one etcd
 * started here (test/etcd/etcd-server.ts, a fresh data dir each run), agents
 * in worker processes of `--per-process` agents each (each agent with its own
 * etcd client and TCP backend).
 *
 * Figures: `spawn→all` (process start, imports, agent creation and
 * discovery), `ready→all` (from the last agent ready until the last has
 * loaded everyone), `seen` (for each agent, from its Agent.create returning
 * until each agent that was running before it has its peer:join: the watch's
 * propagation; median and max over those pairs), and etcd's request counts over spawn→all from its
 * /metrics: unary requests by method (grpc_server_handled_total), streams
 * opened (grpc_server_started_total, Watch and LeaseKeepAlive) and messages
 * received on them (grpc_server_msg_received_total).
 *
 * Usage: tsx bench/discovery/etcd-scale.ts [--sizes 32,128] [--per-process 8] [--runs 1] [--limit-s 300]
 */
import '../../src/polyfills.js';

import { fileURLToPath } from 'node:url';

import { EtcdServer } from '../../test/etcd/etcd-server.js';
import { JsonLineChild, type JsonLineReply } from '../../testing/json-line-child.js';

const WORKER = fileURLToPath(new URL('./etcd-worker.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}
const sizes = arg('sizes', '32,128').split(',').map(Number);
const perProcess = Number(arg('per-process', '8'));
const runs = Number(arg('runs', '1'));
const LIMIT_MS = Number(arg('limit-s', '300')) * 1000;

interface WorkerEvent {
  ev: string;
  t: number;
  [k: string]: any;
}

/** etcd's gRPC counters at one moment: method → count. */
interface Counters {
  unary: Map<string, number>;
  streams: Map<string, number>;
  streamMsgs: Map<string, number>;
}

async function counters(server: EtcdServer): Promise<Counters> {
  const text = await (await fetch(`${server.endpoint}/metrics`)).text();
  const c: Counters = { unary: new Map(), streams: new Map(), streamMsgs: new Map() };
  for (const line of text.split('\n')) {
    const m = /^(grpc_server_\w+)\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries(
      [...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]),
    );
    const method = labels.grpc_method!;
    const v = Number(m[3]);
    const add = (map: Map<string, number>) => map.set(method, (map.get(method) ?? 0) + v);
    if (m[1] === 'grpc_server_handled_total' && labels.grpc_type === 'unary') add(c.unary);
    if (m[1] === 'grpc_server_started_total' && labels.grpc_type === 'bidi_stream') add(c.streams);
    if (m[1] === 'grpc_server_msg_received_total' && labels.grpc_type === 'bidi_stream')
      add(c.streamMsgs);
  }
  return c;
}

function diff(a: Map<string, number>, b: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of b) if (v - (a.get(k) ?? 0) > 0) out.set(k, v - (a.get(k) ?? 0));
  return out;
}

const sum = (m: Map<string, number>) => [...m.values()].reduce((x, y) => x + y, 0);
const fmt = (m: Map<string, number>) =>
  [...m]
    .sort((x, y) => y[1] - x[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

interface RunResult {
  spawnToAll: number;
  readyToAll: number;
  unary: Map<string, number>;
  streams: Map<string, number>;
  streamMsgs: Map<string, number>;
  errors: number;
  leaves: number;
  seen: number[];
}

async function runOnce(n: number, run: number): Promise<RunResult> {
  const server = await EtcdServer.start();
  const children: JsonLineChild<JsonLineReply, WorkerEvent>[] = [];
  try {
    const before = await counters(server);
    const namespace = `/bench/${n}-${run}/`;
    let lastReady = 0;
    let lastLoaded = 0;
    let loaded = 0;
    let errors = 0;
    let leaves = 0;
    const readyAt = new Map<string, number>();
    const joins: { agent: string; peer: string; t: number }[] = [];
    const t0 = Date.now();
    for (let next = 0; next < n;) {
      const names: string[] = [];
      for (let k = 0; k < perProcess && next < n; k++) names.push(`a${next++}`);
      const cfg = {
        names,
        total: n,
        endpoint: server.endpoint,
        namespace,
        limitMs: LIMIT_MS + 30_000,
      };
      children.push(
        new JsonLineChild<JsonLineReply, WorkerEvent>(
          WORKER,
          `worker ${children.length}`,
          {},
          {
            args: [JSON.stringify(cfg)],
            cwd: ROOT,
            stderr: 'inherit',
            eventField: 'ev',
          },
        ),
      );
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new Error(`${n} agents: ${loaded} of ${n} had loaded all after ${LIMIT_MS} ms`)),
        LIMIT_MS,
      );
      for (const child of children) {
        child.onEvent((e) => {
          if (e.ev === 'ready') {
            lastReady = Math.max(lastReady, e.t);
            readyAt.set(e.agent, e.t);
          }
          if (e.ev === 'join') joins.push({ agent: e.agent, peer: e.peer, t: e.t });
          if (e.ev === 'leave') leaves++;
          if (e.ev === 'error') {
            if (errors++ < 3) console.error(`  ${e.agent}: ${e.message}`);
          }
          if (e.ev === 'loaded-all') {
            lastLoaded = Math.max(lastLoaded, e.t);
            if (++loaded === n) {
              clearTimeout(timer);
              resolve();
            }
          }
        });
        void child.exited.then((code) => {
          if (loaded < n) {
            clearTimeout(timer);
            reject(new Error(`a worker exited with ${code} before all agents loaded`));
          }
        });
      }
    });
    const after = await counters(server);
    // Joins of a peer that started after the agent seeing it: the watch's propagation.
    const seen = joins
      .filter((j) => readyAt.get(j.agent)! < readyAt.get(j.peer)!)
      .map((j) => Math.max(0, j.t - readyAt.get(j.peer)!))
      .sort((x, y) => x - y);
    return {
      seen,
      spawnToAll: lastLoaded - t0,
      readyToAll: Math.max(0, lastLoaded - lastReady),
      unary: diff(before.unary, after.unary),
      streams: diff(before.streams, after.streams),
      streamMsgs: diff(before.streamMsgs, after.streamMsgs),
      errors,
      leaves,
    };
  } finally {
    for (const child of children) child.endInput();
    await Promise.all(children.map((c) => c.waitForExit(30_000)));
    await server.stop();
  }
}

console.log(`etcd scale (one etcd on 127.0.0.1, ${perProcess} agents per process, ${runs} run(s))`);
console.log(
  'agents | processes | spawn→all ms | ready→all ms | seen p50 / max ms | unary requests | streams | stream msgs | errors, leaves',
);
for (let r = 0; r < runs; r++) {
  for (const n of sizes) {
    const res = await runOnce(n, r);
    console.log(
      `${n} | ${Math.ceil(n / perProcess)} | ${res.spawnToAll} | ${res.readyToAll} | ` +
        `${res.seen[Math.floor(res.seen.length / 2)] ?? NaN} / ${res.seen.at(-1) ?? NaN} | ` +
        `${sum(res.unary)} (${fmt(res.unary)}) | ${sum(res.streams)} (${fmt(res.streams)}) | ` +
        `${sum(res.streamMsgs)} (${fmt(res.streamMsgs)}) | ${res.errors}, ${res.leaves}`,
    );
  }
}
