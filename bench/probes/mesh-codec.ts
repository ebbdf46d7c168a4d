/**
 * What the discovery mesh's frame codec costs, in a fresh process: a typical
 * gossip frame of a 128-member start (9 records of ~230 B payload, each
 * record's member payload decoded too, as the plugin does) encoded and
 * decoded with the codec of the tree named on the command line (its compiled
 * dist/), so two trees' codecs compare in alternating runs.
 *
 * Prints: the import of mesh-wire.js (ms); the first 78 encodes and 78
 * decodes (an agent's frames of a 128 start: ms of wall time and of process
 * CPU, V8's compiler threads included); steady state (µs per encode and per
 * decode, after a warm-up, median of 7 batches).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/probes/mesh-codec.js TREE
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

type MeshWire = typeof import('../../plugins/gossip/mesh-wire.js');

const tree = process.argv[2] ?? '.';
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const wire = (await import(
  pathToFileURL(`${tree}/dist/plugins/gossip/mesh-wire.js`).href
)) as MeshWire;
const importMs = performance.now() - t0;
const importCpuMs = cpuMs(process.cpuUsage(cpu0));

function cpuMs(u: NodeJS.CpuUsage): number {
  return (u.user + u.system) / 1000;
}

/** A libp2p-style peer id (52 characters). */
const peerId = (i: number) => `12D3KooW${String(i).padStart(4, '0')}${'x'.repeat(40)}`;
const fill = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff);

function gossipFrame(seed: number) {
  const records = [];
  for (let i = 0; i < 9; i++) {
    const payload = wire.encodePayload({
      name: `agent-${seed}-${i}`,
      addrs: [`/ip4/10.0.${i}.2/tcp/${40000 + i}`],
      metadata: fill(190, seed + i),
    });
    records.push({
      id: peerId(seed * 9 + i),
      version: 1764000000000 + seed * 9 + i,
      left: false,
      payload,
      sig: fill(64, i),
    });
  }
  return { kind: 'gossip' as const, records, deaths: [], suspects: [], alives: [], links: 4 };
}

const frames = Array.from({ length: 16 }, (_, i) => gossipFrame(i));
const encoded = frames.map((f) => wire.encodeFrame(f));
const payloadBytes = frames[0]!.records.reduce((n, r) => n + r.payload.byteLength, 0) / 9;

let sink = 0;
function decodeOne(bytes: Uint8Array): void {
  const m = wire.decodeFrame(bytes);
  if (m.kind !== 'gossip') throw new Error(m.kind);
  for (const r of m.records) sink += wire.decodePayload(r.payload).addrs.length;
}

// An agent's first frames (cold: interpreted, then compiled).
const c0 = process.cpuUsage();
const w0 = performance.now();
for (let i = 0; i < 78; i++) sink += wire.encodeFrame(frames[i % 16]!).byteLength;
for (let i = 0; i < 78; i++) decodeOne(encoded[i % 16]!);
const firstMs = performance.now() - w0;
const firstCpuMs = cpuMs(process.cpuUsage(c0));

// Steady state.
const BATCH = 2000;
const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1]!;
for (let i = 0; i < 20_000; i++) {
  sink += wire.encodeFrame(frames[i % 16]!).byteLength;
  decodeOne(encoded[i % 16]!);
}
const enc: number[] = [];
const dec: number[] = [];
for (let b = 0; b < 7; b++) {
  let s = performance.now();
  for (let i = 0; i < BATCH; i++) sink += wire.encodeFrame(frames[i % 16]!).byteLength;
  enc.push(((performance.now() - s) * 1000) / BATCH);
  s = performance.now();
  for (let i = 0; i < BATCH; i++) decodeOne(encoded[i % 16]!);
  dec.push(((performance.now() - s) * 1000) / BATCH);
}

console.log(
  JSON.stringify({
    tree,
    frameBytes: encoded[0]!.byteLength,
    payloadBytes: Math.round(payloadBytes),
    importMs: +importMs.toFixed(2),
    importCpuMs: +importCpuMs.toFixed(2),
    first78Ms: +firstMs.toFixed(2),
    first78CpuMs: +firstCpuMs.toFixed(2),
    encodeUs: +median(enc).toFixed(3),
    decodeUs: +median(dec).toFixed(3),
    sink: sink > 0,
  }),
);
