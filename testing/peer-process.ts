/**
 * A peer agent in its own process, driven by the conformance suite over
 * stdin/stdout (see peer-protocol.ts). It registers one region, serves it,
 * and reports notifications with the region's hash at their arrival.
 */
import { writeSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { Agent } from '../src/agent.js';
import { NixlError } from '../src/errors.js';
import type { Registration } from '../src/registration.js';
import type { XferRequest } from '../src/xfer-request.js';
import { serveJsonLines } from './json-line-server.js';
import { fillPattern, sha256 } from './pattern.js';
import type { PeerCommand, PeerReply, WatchCertificate } from './peer-protocol.js';
import { NOTIF_WINDOW } from './transfer-pair.js';

let agent: Agent | undefined;
let region: Registration | undefined;
let buffer: Buffer | undefined;
/** Requests this peer posted as an initiator (InitiatorCommand), by number. */
const xfers: { req: XferRequest; localOff: number; len: number }[] = [];
let hashAtClose: string | undefined;
const arrived: { from: string; msg: string; hash: string }[] = [];
const waiting: { msg: string; resolve: (r: { from: string; hash: string }) => void }[] = [];

function onNotif(from: string, msg: Uint8Array): void {
  const text = Buffer.from(msg).toString();
  // The same window the in-process pairs hash (transfer-pair.ts).
  const entry = { from, msg: text, hash: sha256(buffer!.subarray(0, NOTIF_WINDOW)) };
  const w = waiting.findIndex((x) => x.msg === text);
  if (w >= 0) waiting.splice(w, 1)[0]!.resolve(entry);
  else arrived.push(entry);
}

/**
 * The `watch` command (see peer-protocol.ts): block this thread, probing the
 * region until the first bytes of a WRITE land, then write down how much had
 * landed and SIGKILL this process. Dying by its own hand, at the moment it
 * sees the first bytes, is what makes the kill land mid-transfer on a loaded
 * two-core machine: a report to the parent first would add a pipe hop and a
 * turn of the parent's event loop (milliseconds when the machine is busy,
 * which is most of a 256 MiB transfer on the same-host paths). The death is
 * the same as a `kill -9` from outside: SIGKILL cannot be caught, nothing of
 * this process runs after it. The certificate lets the parent judge a DONE:
 * the region died with the process, so its bytes can only be vouched for here.
 */
function watchAndDie(c: Extract<PeerCommand, { cmd: 'watch' }>): never {
  const buf = buffer!;
  const words = new Uint32Array(buf.buffer, buf.byteOffset, Math.floor(buf.byteLength / 4));
  const chunks = Math.floor(buf.byteLength / c.stride);
  const step = c.stride / 4;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const tailsMissing = (): number => {
    let missing = 0;
    for (let i = 0; i < chunks; i++) {
      const w = ((i + 1) * c.stride) / 4 - 2;
      if (words[w] !== c.tails[2 * i] || words[w + 1] !== c.tails[2 * i + 1]) missing++;
    }
    return missing;
  };
  // Touch every probed page once before arming (and warm the code up): a
  // first read of an untouched page faults, and a fault can wait behind the
  // page allocation of the engine's writes (huge pages are compacted
  // synchronously here, `defrag=madvise`), which once put 188 ms between the
  // snapshot below and the kill.
  let touched = tailsMissing();
  for (let i = 0, w = 0; i < chunks; i++, w += step) touched += words[w]! & 1;
  if (touched < 0) throw new Error('unreachable');
  const started = performance.now();
  // Written at once (writeSync): this thread blocks from here on.
  writeSync(1, JSON.stringify({ event: 'armed', id: c.id }) + '\n');
  for (;;) {
    let changed = false;
    for (let i = 0, w = 0; i < chunks; i++, w += step) {
      if (words[w] !== c.sentinel || words[w + 1] !== c.sentinel) {
        changed = true;
        break;
      }
    }
    if (changed) break;
    if (performance.now() - started > c.timeoutMs)
      throw new Error(`no byte of the region changed within ${c.timeoutMs} ms`);
    // ~50-100 µs between probes: prompt, and it leaves the cores to the engines.
    Atomics.wait(sleeper, 0, 0, 0.05);
  }
  const waitedMs = performance.now() - started;
  const snap = process.hrtime.bigint();
  const missing = tailsMissing();
  const cert: WatchCertificate = { chunks, missing, waitedMs, snapshotToKillUs: 0 };
  if (missing === 0) {
    // Too late: every chunk's tail is there. Hash what landed (bytes may
    // still be landing for a moment, hence the retries) so that the parent
    // can verify a DONE.
    const until = performance.now() + 2000;
    do cert.hash = sha256(buf);
    while (cert.hash !== c.expectHash && performance.now() < until);
  }
  cert.snapshotToKillUs = Number(process.hrtime.bigint() - snap) / 1000;
  // Written here, not returned: nothing of this process runs after the kill.
  writeSync(1, JSON.stringify({ id: c.id, watch: cert } satisfies PeerReply) + '\n');
  process.kill(process.pid, 'SIGKILL');
  throw new Error('still alive after SIGKILL'); // not reached
}

/** Waits until one probe (the first byte of every MiB) of [off, +len) differs from `sentinel`. */
async function firstBytes(off: number, len: number, sentinel: number, timeoutMs: number) {
  const buf = buffer!;
  const deadline = performance.now() + timeoutMs;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    const slice = performance.now() + 20;
    while (performance.now() < slice) {
      for (let o = off; o < off + len; o += 1 << 20) if (buf[o] !== sentinel) return true;
      Atomics.wait(sleeper, 0, 0, 0.05);
    }
    if (performance.now() > deadline) return false;
    await new Promise((r) => setImmediate(r));
  }
}

function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

serveJsonLines<PeerCommand>(
  {
    init: async (c) => {
      agent = await Agent.create({
        name: c.name,
        plugins: c.plugins,
        backends: [{ type: c.backend, params: c.params }],
      });
      agent.on('notif', onNotif);
      buffer = agent.alloc(c.size, { backend: c.allocBackend }).buffer;
      region = agent.registerMem(buffer);
      const d = region.descs.at(0);
      return {
        md: Buffer.from(agent.getLocalMD()).toString('base64'),
        addr: d.addr.toString(),
        len: d.len,
      } satisfies Omit<PeerReply, 'id'>;
    },
    load: (c) => void agent!.loadRemoteMD(Buffer.from(c.md, 'base64')),
    fill: (c) => fillPattern(buffer!.subarray(c.off, c.off + c.len), c.seed),
    hash: (c) => ({ hash: sha256(buffer!.subarray(c.off, c.off + c.len)) }),
    notif: async (c) => {
      const i = arrived.findIndex((x) => x.msg === c.msg);
      if (i >= 0) {
        const e = arrived.splice(i, 1)[0]!;
        return { from: e.from, hashAtArrival: e.hash };
      }
      const got = await new Promise<{ from: string; hash: string } | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), c.timeoutMs);
        waiting.push({ msg: c.msg, resolve: (r) => (clearTimeout(timer), resolve(r)) });
      });
      if (!got) throw new Error(`no notification '${c.msg}' within ${c.timeoutMs} ms`);
      return { from: got.from, hashAtArrival: got.hash };
    },
    watch: watchAndDie,
    post: (c) => {
      if (c.sentinel !== undefined) buffer!.fill(c.sentinel, c.localOff, c.localOff + c.len);
      const base = region!.descs.at(0).addr;
      const req = agent!.createXferReq(
        c.op,
        [{ addr: base + BigInt(c.localOff), len: c.len }],
        [{ addr: BigInt(c.remoteAddr), len: c.len }],
        c.peer,
      );
      const state = agent!.postXferReq(req);
      xfers.push({ req, localOff: c.localOff, len: c.len });
      return { state, xfer: xfers.length - 1 };
    },
    wait: async (c) => {
      await xfers[c.xfer]!.req.wait({ signal: AbortSignal.timeout(c.timeoutMs) });
    },
    firstBytes: async (c) => ({
      moved: await firstBytes(c.off, c.len, c.sentinel, c.timeoutMs),
    }),
    closeAgent: async (c) => {
      const t0 = performance.now();
      let closeMs: number | undefined;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        agent!.close().then(() => (closeMs = performance.now() - t0)),
        new Promise((r) => (timer = setTimeout(r, c.timeoutMs))),
      ]);
      clearTimeout(timer);
      const ends = await Promise.all(
        xfers.map((x) =>
          x.req.wait({ signal: AbortSignal.timeout(1_000) }).then(
            () => 'DONE',
            (e: unknown) =>
              e instanceof NixlError
                ? e.name
                : (e as Error)?.name === 'TimeoutError'
                  ? 'unsettled'
                  : `not a NixlError: ${String(e)}`,
          ),
        ),
      );
      const hashes = xfers.map((x, i) =>
        ends[i] === 'DONE' ? sha256(buffer!.subarray(x.localOff, x.localOff + x.len)) : null,
      );
      hashAtClose = sha256(buffer!);
      return { closeMs, ends, hashes };
    },
    changedSinceClose: async () => {
      const changed = sha256(buffer!) !== hashAtClose;
      // Let the memory go (it is unmapped when collected): an engine that
      // still wrote into it would now fault this process.
      buffer = undefined;
      region = undefined;
      xfers.length = 0;
      collectGarbage();
      await new Promise((r) => setTimeout(r, 100));
      return { changed };
    },
    shmCounters: () => {
      const tcp = agent!.backends.find((b) => b.type === 'TCP') as
        { shmCounters?(): Record<string, number> } | undefined;
      if (!tcp?.shmCounters) throw new Error('no TCP backend with shared-memory counters');
      return { shm: tcp.shmCounters() };
    },
    close: async () => {
      region?.close();
      await agent?.close();
      setImmediate(() => process.exit(0));
    },
  },
  {
    // The parent is gone: close the agent (stopping its backends' threads) and
    // exit; if closing hangs, the timer ends the process, so no peer outlives its test.
    onEnd: () => {
      setTimeout(() => process.kill(process.pid, 'SIGKILL'), 5_000);
      Promise.resolve(agent?.close())
        .catch(() => {})
        .finally(() => process.exit(0));
    },
  },
);
