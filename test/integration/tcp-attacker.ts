/**
 * An attacker in its own process for the TCP security tests, driven over
 * stdin/stdout with one JSON object a line ({id, cmd, ...} → {id, ...}). It
 * speaks the wire format directly (tcp-frame-client.ts), holding what a peer
 * that loaded the target's metadata holds: the secret and the region keys.
 * Loopback and this host's Unix sockets only.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';

import { native } from '../../src/native.js';
import { serveJsonLines } from '../../testing/json-line-server.js';
import {
  FrameClient,
  HEADER,
  MAGIC,
  OP,
  header,
  helloPayload,
  targetInfo,
  type TargetInfo,
} from './tcp-frame-client.js';

type Cmd = { id: number; cmd: string } & Record<string, any>;

let info: TargetInfo | undefined;
/** A connection kept open under a name (holdHello), to see what the target does with it later. */
let held: FrameClient | undefined;
const flood: Socket[] = [];
/** A connection that got its challenge and holds a HELLO ready to send (helloLater). */
let early: { conn: FrameClient; hello: Buffer } | undefined;
let fake: { server: Server; connections: number; hellos: number; afterHello: number } | undefined;

/** A CMA entry: copy `len` bytes between our `initiatorAddr` and the target's `targetAddr`. */
function cmaEntry(
  initiatorAddr: bigint,
  targetAddr: bigint,
  len: number,
  key: bigint,
  rid: number,
) {
  const e = Buffer.alloc(40);
  e.writeBigUInt64LE(initiatorAddr, 0);
  e.writeBigUInt64LE(targetAddr, 8);
  e.writeBigUInt64LE(BigInt(len), 16);
  e.writeBigUInt64LE(key, 24);
  e.writeUInt32LE(rid, 32);
  return e;
}

/** Sends one CMA list and returns the ACK's status, or 'closed'. */
async function cmaRequest(c: FrameClient, op: number, entries: Buffer[], xferId: bigint) {
  const payload = Buffer.concat(entries);
  c.send(header({ op, xferId, len: payload.length }), payload);
  const f = await c.next(5_000);
  if (!f) return 'closed';
  // A CMA_READ is answered by a grant (the initiator pulls itself), a CMA_WRITE by an ACK.
  const answer = op === OP.CMA_READ ? OP.CMA_GRANT : OP.ACK;
  return f.op === answer ? f.status : `op ${f.op}`;
}

serveJsonLines<Cmd>({
  target: (c) => {
    info = targetInfo(Buffer.from(c.md, 'base64'));
    return { regions: info.regions.length, unix: info.unixName !== '' };
  },

  cmaOverTcp: async (c) => {
    // A peer that is not on this host's Unix socket asks for same-host copies.
    const conn = await FrameClient.open(info!, c.name, { cma: true });
    const granted = conn.cma;
    const r = info!.regions[0]!;
    conn.send(
      header({ op: OP.CMA_READ, xferId: 1n, len: 40 }),
      cmaEntry(0n, r.addr, 8, r.key, r.regionId),
    );
    const f = await conn.next(5_000);
    await conn.closed.then(
      () => undefined,
      () => undefined,
    );
    return { granted, answered: f !== undefined, closed: conn.isClosed };
  },

  cmaOverUnix: async (c) => {
    // From another process on this host: granted, for that process's own
    // memory only. Every entry that points the "initiator" side at the
    // target's own addresses reaches this process's address space instead.
    const conn = await FrameClient.open(info!, c.name, { cma: true, unix: true });
    if (!conn.cma) return { granted: false };
    const r = info!.regions[0]!;
    const mine = Buffer.alloc(4096, 0x77);
    const mineAddr = native().addressOf(mine);
    const results: Record<string, unknown> = {};
    let id = 1n;
    // 1. a good entry then one with a wrong key: refused whole.
    results.goodThenBadKey = await cmaRequest(
      conn,
      OP.CMA_WRITE,
      [
        cmaEntry(mineAddr, r.addr, 64, r.key, r.regionId),
        cmaEntry(mineAddr, r.addr, 64, r.key ^ 2n, r.regionId),
      ],
      id++,
    );
    // 2. past the end of the region.
    results.pastEnd = await cmaRequest(
      conn,
      OP.CMA_READ,
      [cmaEntry(mineAddr, r.addr + BigInt(r.len) - 8n, 64, r.key, r.regionId)],
      id++,
    );
    // 3. before the region (its canary).
    results.beforeStart = await cmaRequest(
      conn,
      OP.CMA_WRITE,
      [cmaEntry(mineAddr, r.addr - 64n, 64, r.key, r.regionId)],
      id++,
    );
    // 4. the "initiator" address is the target's canary: the target reads
    // this process's memory there (unmapped here, or ours), never its own.
    results.pullFromTargetAddr = await cmaRequest(
      conn,
      OP.CMA_WRITE,
      [cmaEntry(r.addr - 64n, r.addr, 64, r.key, r.regionId)],
      id++,
    );
    // 5. a READ of the region toward the target's canary address: the target
    // only grants it (this process would pull into its own memory).
    results.pushToTargetAddr = await cmaRequest(
      conn,
      OP.CMA_READ,
      [cmaEntry(r.addr - 64n, r.addr, 64, r.key, r.regionId)],
      id++,
    );
    conn.close();
    return { granted: true, results };
  },

  hello: async (c) => {
    // Authenticate as `name` (with a fresh identity key): accepted or not.
    try {
      const conn = await FrameClient.open(info!, c.name, { unix: c.unix === true });
      if (c.notif) {
        const msg = Buffer.from(c.notif);
        conn.send(header({ op: OP.NOTIF, len: msg.length }), msg);
        await new Promise((r) => setTimeout(r, 200));
      }
      conn.close();
      return { accepted: true };
    } catch {
      return { accepted: false };
    }
  },

  holdHello: async (c) => {
    // Authenticate as `name` (a fresh identity key), send `notif`, keep the connection open.
    try {
      held = await FrameClient.open(info!, c.name, {});
    } catch {
      return { accepted: false };
    }
    const msg = Buffer.from(c.notif);
    held.send(header({ op: OP.NOTIF, len: msg.length }), msg);
    return { accepted: true };
  },

  helloLater: async (c) => {
    // Connects and reads the challenge now; the HELLO for `name` (a fresh
    // identity key) is computed now too and sent by helloNow, with a NOTIF
    // right behind it in the same write, without waiting for HELLO_OK.
    const conn = await FrameClient.raw(info!.host, info!.port);
    const ch = await conn.next(10_000);
    if (!ch || ch.op !== OP.CHALLENGE) return { challenged: false };
    const payload = helloPayload(info!, c.name, ch.payload);
    const msg = Buffer.from(c.notif);
    early = {
      conn,
      hello: Buffer.concat([
        header({ op: OP.HELLO, len: payload.length }),
        payload,
        header({ op: OP.NOTIF, len: msg.length }),
        msg,
      ]),
    };
    return { challenged: true };
  },

  helloNow: async () => {
    // Accepted: the target answered HELLO_OK; else it closed the connection.
    const { conn, hello } = early!;
    early = undefined;
    conn.send(hello);
    const f = await conn.next(5_000);
    conn.close();
    return { accepted: f?.op === OP.HELLO_OK };
  },

  heldWaitClosed: async (c) => {
    // Whether the target closed the held connection within `timeoutMs`.
    const t0 = Date.now();
    const timeout = new Promise<void>((r) => setTimeout(r, c.timeoutMs));
    await Promise.race([held!.closed.catch(() => undefined), timeout]);
    return { closed: held!.isClosed, ms: Date.now() - t0 };
  },

  heldNotif: (c) => {
    // One more notification on the held connection, if it is still open.
    if (held!.isClosed) return { sent: false };
    const msg = Buffer.from(c.notif);
    held!.send(header({ op: OP.NOTIF, len: msg.length }), msg);
    return { sent: true };
  },

  flood: async (c) => {
    // `count` connections that never say HELLO, opened `parallel` at a time.
    let opened = 0;
    let failed = 0;
    const one = () =>
      FrameClient.raw(info!.host, info!.port).then(
        (conn) => {
          conn.discard = true;
          flood.push(conn.socket);
          opened++;
        },
        () => failed++,
      );
    const parallel = c.parallel ?? 64;
    for (let i = 0; i < c.count; i += parallel) {
      await Promise.all(Array.from({ length: Math.min(parallel, c.count - i) }, one));
    }
    return { opened, failed };
  },

  floodRelease: () => {
    const n = flood.length;
    for (const s of flood.splice(0)) s.destroy();
    return { closed: n };
  },

  fakeTarget: async (c) => {
    // Listens where a real target was, answers the handshake without its
    // secret or key, and counts what arrives after the HELLO.
    const state = { server: createServer(), connections: 0, hellos: 0, afterHello: 0 };
    fake = state;
    state.server.on('connection', (s) => {
      state.connections++;
      let buf = Buffer.alloc(0);
      let sawHello = false;
      s.on('error', () => {});
      const ch = header({ op: OP.CHALLENGE, len: 32 });
      s.write(Buffer.concat([ch, randomBytes(32)]));
      s.on('data', (d) => {
        if (sawHello) {
          state.afterHello += d.length;
          return;
        }
        buf = Buffer.concat([buf, d]);
        if (buf.length < HEADER) return;
        if (buf.readUInt32LE(0) !== MAGIC) return void s.destroy();
        const len = Number(buf.readBigUInt64LE(40));
        if (buf.length < HEADER + len) return;
        sawHello = true;
        state.hellos++;
        state.afterHello += buf.length - HEADER - len;
        // HELLO_OK with a MAC and signature made up: it holds neither.
        s.write(Buffer.concat([header({ op: OP.HELLO_OK, len: 96 }), randomBytes(96)]));
      });
    });
    await new Promise<void>((resolve, reject) => {
      state.server.once('error', reject);
      state.server.listen(c.port, '127.0.0.1', resolve);
    });
    return { listening: true };
  },

  fakeReport: () => ({
    connections: fake!.connections,
    hellos: fake!.hellos,
    afterHello: fake!.afterHello,
  }),

  close: () => void setImmediate(() => process.exit(0)),
});
