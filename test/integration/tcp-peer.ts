/**
 * A TCP agent in its own process for the integration tests, driven over
 * stdin/stdout with one JSON object a line ({id, cmd, ...} → {id, ...}).
 * It serves one region; it can also initiate transfers to peers it loaded.
 * `init` may name another backend (`backend: 'UCX'`); a UCX agent can also
 * forge active messages (`forgeAm`) and report what it refused (`authCounters`).
 */
import { readdirSync, readFileSync } from 'node:fs';

import type { UcxBackend } from '../../backends/ucx/ucx-backend.js';
import { Agent } from '../../src/agent.js';
import { decodeMetadata, encodeMetadata } from '../../src/metadata.js';
import { serveJsonLines } from '../../testing/json-line-server.js';
import { fillPattern, sha256 } from '../../testing/pattern.js';
import { exchangeKeyOf, junkHello, WireSender, type Am } from './ucx-wire-sender.js';

let agent: Agent | undefined;
let buffer: Buffer | undefined;
let base = 0n;
const notifs: [string, string, string | null][] = [];
let wire: WireSender | undefined;
const hex = ([id, h, b]: Am): [number, string, string] => [
  id,
  h.toString('hex'),
  b.toString('hex'),
];

type Cmd = { id: number; cmd: string } & Record<string, any>;

const ucx = (): UcxBackend => agent!.backends.find((b) => b.type === 'UCX') as UcxBackend;

/** write/read: [off, remoteAddr, len] triples into/from the region of agent c.to. */
async function transfer(c: Cmd): Promise<void> {
  const local = c.descs.map((d: number[]) => ({ addr: base + BigInt(d[0]!), len: d[2]! }));
  const remote = c.descs.map((d: (number | string)[]) => ({
    addr: BigInt(d[1]!),
    len: d[2] as number,
  }));
  const fn = c.cmd === 'write' ? agent!.write.bind(agent) : agent!.read.bind(agent);
  await fn(local, remote, c.to, { notif: c.notif, signal: AbortSignal.timeout(60_000) });
}

serveJsonLines<Cmd>(
  {
    init: async (c) => {
      const type = c.backend ?? 'TCP';
      agent = await Agent.create({ name: c.name, backends: [{ type, params: c.params }] });
      buffer = agent.alloc(c.size).buffer;
      base = agent.registerMem(buffer).descs.at(0).addr;
      // listen: false leaves notifications to getNotifs (takeNotifs below).
      if (c.listen !== false)
        agent.on('notif', (from, msg) => {
          const text = Buffer.from(msg).toString();
          // "peek:<off>:..." records the 8 bytes at <off> when the notification arrives.
          const m = /^peek:(\d+):/.exec(text);
          const peek = m ? buffer!.subarray(Number(m[1]), Number(m[1]) + 8).toString('hex') : null;
          notifs.push([from, text, peek]);
          // "clobber:<off>:<len>:..." overwrites that range at once, as a target
          // that reuses memory as soon as a READ's notification tells it so.
          const k = /^clobber:(\d+):(\d+):/.exec(text);
          if (k) buffer!.fill(0xee, Number(k[1]), Number(k[1]) + Number(k[2]));
        });
      return { md: Buffer.from(agent.getLocalMD()).toString('base64'), addr: base.toString() };
    },
    load: (c) => ({ name: agent!.loadRemoteMD(Buffer.from(c.md, 'base64')) }),
    // Metadata loaded under the name c.as instead of its own: how a peer
    // named like the target (a forger) still reaches it.
    loadAs: (c) => {
      const md = decodeMetadata(Buffer.from(c.md, 'base64'));
      return { name: agent!.loadRemoteMD(encodeMetadata({ ...md, name: c.as })) };
    },
    genNotif: (c) => agent!.genNotif(c.to, c.msg),
    // c.count (at most 5000) notifications `${c.prefix}-${i}`, each padded
    // to c.size bytes if given, until one throws: how many went, and why not (refused).
    genNotifs: async (c) => {
      const count = Math.min(Number(c.count), 5000);
      for (let i = 0; i < count; i++) {
        const text = Buffer.from(`${c.prefix}-${i}`);
        const msg = c.size ? Buffer.concat([text, Buffer.alloc(c.size - text.length)]) : text;
        try {
          await agent!.genNotif(c.to, msg);
        } catch (e) {
          return { sent: i, refused: `${(e as Error).name}: ${(e as Error).message}` };
        }
      }
      return { sent: count };
    },
    // UCX only: what this agent refused of its peers' messages.
    authCounters: () => ({ counters: ucx().authCounters() }),
    // UCX only, a forger: c.rounds rounds (at most 200, 5 s at most) of the
    // active messages c.ams ([amId, header hex, body hex]) to agent c.to.
    forgeAm: async (c) => {
      const ams = (c.ams as [number, string, string][]).map(
        ([id, h, b]) => [id, Buffer.from(h, 'hex'), Buffer.from(b, 'hex')] as const,
      );
      const end = Date.now() + 5_000;
      let sent = 0;
      for (let r = 0; r < Math.min(c.rounds ?? 1, 200) && Date.now() < end; r++) {
        for (const [id, h, b] of ams) ucx().forgeAm(c.to, id, h, b);
        sent += ams.length;
        await new Promise((resolve) => setImmediate(resolve));
      }
      return { sent };
    },
    // UCX only, a sender of wire version 5 written in TypeScript (ucx-wire-sender.ts)
    // under the name c.name, through this agent's endpoint to c.to (whose
    // metadata is c.md): a new session's HELLO, then notifications under it.
    // Each returns the active messages it sent, as forgeAm takes them.
    wireHello: (c) => {
      wire ??= new WireSender(c.name, c.to, exchangeKeyOf(Buffer.from(c.md, 'base64')));
      const am = wire.hello();
      ucx().forgeAm(c.to, ...am);
      return { ams: [hex(am)], identity: wire.identityPublic.toString('hex') };
    },
    wireNotif: (c) => {
      const am = wire!.notif(c.msg);
      ucx().forgeAm(c.to, ...am);
      return { ams: [hex(am)] };
    },
    // UCX only, a stranger flooding c.to (metadata c.md) with HELLOs for c.ms
    // (at most 10 s), in rounds of 64: c.valid fresh HELLOs that verify (new
    // sessions under one name the target has no metadata for: each costs it
    // the whole crypto), then junk (signatures that do not verify, random
    // keys and names; or, with c.as and c.identity (hex), under that name
    // with that Ed25519 key).
    floodHellos: async (c) => {
      const stranger = new WireSender(
        `stranger-${process.pid}`,
        c.to,
        exchangeKeyOf(Buffer.from(c.md, 'base64')),
      );
      const end = Date.now() + Math.min(c.ms, 10_000);
      let sent = 0;
      for (let round = 0; round < 100_000 && Date.now() < end; round++) {
        for (let i = 0; i < 64; i++) {
          const am =
            i < c.valid
              ? stranger.hello()
              : c.as !== undefined
                ? junkHello(c.as, Buffer.from(c.identity, 'hex'))
                : junkHello(`junk-${process.pid}-${sent}`);
          ucx().forgeAm(c.to, ...am);
          sent++;
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
      return { sent };
    },
    fill: (c) => {
      // Through an aligned copy: fillPattern wants a 4-byte aligned view.
      const tmp = Buffer.alloc(c.len);
      fillPattern(tmp, c.seed);
      tmp.copy(buffer!, c.off);
    },
    hash: (c) => ({ hash: sha256(buffer!.subarray(c.off, c.off + c.len)) }),
    notifs: () => ({ list: notifs.splice(0) }),
    // Each thread of this process: how often it was scheduled so far
    // (/proc/self/task/<tid>/schedstat's third field: each wake-up is one),
    // its name and CPU time (utime + stime of its stat, in clock ticks).
    threads: () => ({
      list: readdirSync('/proc/self/task').map((tid) => {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return {
          tid: Number(tid),
          runs: Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[2]),
          comm: readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim(),
          cpuTicks: Number(rest[11]) + Number(rest[12]),
        };
      }),
    }),
    // Synchronously, as the line arrives: what getNotifs returns now, and the
    // hash of [off, off + len) at that moment.
    takeNotifs: (c) => {
      const list: [string, string][] = [];
      for (const [from, msgs] of agent!.getNotifs()) {
        for (const m of msgs) list.push([from, Buffer.from(m).toString()]);
      }
      return { list, hash: sha256(buffer!.subarray(c.off, c.off + c.len)) };
    },
    write: transfer,
    read: transfer,
    close: async () => {
      await agent?.close();
      setImmediate(() => process.exit(0));
    },
  },
  {
    // The whole stack: a failure deep in a transfer is found from the test's output.
    errorText: (e: any) => String(e?.stack ?? e),
    onEnd: () => void Promise.resolve(agent?.close()).finally(() => process.exit(0)),
  },
);
