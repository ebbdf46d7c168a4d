/**
 * Notification limits on the remote backends: a notification over TCP's
 * 1 MiB (the engine's kMaxNotif) or UCX's 1 MiB bound is refused with
 * InvalidParamError before anything is sent, so the connection stays up and
 * the peer stays loaded; one of exactly the limit arrives; the next small
 * notification and transfer work. In one process and with the target in a
 * child process (the conformance peer). LOCAL and the agent's entry points
 * are covered in test/unit/notif-limit.test.ts.
 */
import { randomBytes } from 'node:crypto';

import { afterEach, describe, expect, it } from 'vitest';

import { TCP_MAX_NOTIF_BYTES } from '../../backends/tcp/native-engine.js';
import { UCX_MAX_NOTIF_BYTES } from '../../backends/ucx/native-ucx.js';
import { Agent } from '../../src/agent.js';
import type { BackendParams } from '../../src/backend.js';
import { InvalidParamError, type NixlError } from '../../src/errors.js';
import { fillPattern, sha256 } from '../../testing/pattern.js';
import { PeerProcess } from '../../testing/peer-harness.js';
import { reportUcxUnavailable, UCX_AVAILABLE } from './ucx-gate.js';

const MiB = 1024 * 1024;
const SIZE = MiB;
const WAIT_MS = 30_000;

interface Case {
  backend: 'TCP' | 'UCX';
  params: BackendParams;
  limit: number;
}

const cases: Case[] = [
  {
    backend: 'TCP',
    params: { port: '0', same_host: 'off', timeout_ms: '5000' },
    limit: TCP_MAX_NOTIF_BYTES,
  },
  { backend: 'UCX', params: { profile: 'tcp', devices: 'lo' }, limit: UCX_MAX_NOTIF_BYTES },
];

const open: Agent[] = [];
const peers: PeerProcess[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) await p.close();
  for (const a of open.splice(0)) await a.close();
});

function uniq(prefix: string): string {
  return `${prefix}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

async function initiator(c: Case) {
  const a = await Agent.create({
    name: uniq('init'),
    backends: [{ type: c.backend, params: c.params }],
  });
  open.push(a);
  const local = a.alloc(SIZE).buffer;
  const localBase = a.registerMem(local).descs.at(0).addr;
  const events: string[] = [];
  a.on('peer:disconnect', (n, e: NixlError) => events.push(`disconnect ${n}: ${e.message}`));
  a.on('peer:leave', (n) => events.push(`leave ${n}`));
  return { a, local, localBase, events };
}

function expectLimitError(err: unknown, limit: number, size: number, backend: string): void {
  expect(err).toBeInstanceOf(InvalidParamError);
  const msg = (err as Error).message;
  expect(msg).toContain(`${size} bytes`);
  expect(msg).toContain(`limit of ${limit} bytes`);
  expect(msg).toContain(backend);
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** The refusals every case checks; the initiator `a` has the target `target` loaded. */
async function refuseOverLimit(
  c: Case,
  a: Agent,
  target: string,
  localBase: bigint,
  remoteBase: bigint,
): Promise<void> {
  const over = new Uint8Array(c.limit + 1);
  const local = [{ addr: localBase, len: 4096 }];
  const remote = [{ addr: remoteBase, len: 4096 }];
  expectLimitError(
    thrown(() => a.genNotif(target, over)),
    c.limit,
    c.limit + 1,
    c.backend,
  );
  const writeErr = await a.write(local, remote, target, { notif: over }).catch((e) => e);
  expectLimitError(writeErr, c.limit, c.limit + 1, c.backend);
  expectLimitError(
    thrown(() => a.createXferReq('READ', local, remote, target, { notif: over })),
    c.limit,
    c.limit + 1,
    c.backend,
  );
  const req = a.createXferReq('WRITE', local, remote, target);
  expectLimitError(
    thrown(() => a.postXferReq(req, { notif: over })),
    c.limit,
    c.limit + 1,
    c.backend,
  );
  expect(a.getXferStatus(req)).toBe('NOT_POSTED');
  req.release();
  // The backend refuses on its own too, for callers that bypass the agent.
  expectLimitError(
    thrown(() => a.backends[0]!.genNotif!(target, over)),
    c.limit,
    c.limit + 1,
    c.backend,
  );
  expect(a.checkRemoteMD(target)).toBe(true);
}

for (const c of cases) {
  const run = c.backend === 'UCX' && !UCX_AVAILABLE ? undefined : describe;
  if (!run) {
    reportUcxUnavailable('UCX notification limit');
    continue;
  }

  run(`${c.backend} notification limit`, () => {
    it(`declares ${c.limit} bytes`, async () => {
      expect(c.limit).toBe(MiB);
      const { a } = await initiator(c);
      expect(a.backends[0]!.maxNotifBytes).toBe(c.limit);
    });

    it('in one process: over the limit is refused, the peer stays, the limit itself arrives', async () => {
      const { a, localBase, local, events } = await initiator(c);
      const b = await Agent.create({
        name: uniq('target'),
        backends: [{ type: c.backend, params: c.params }],
      });
      open.push(b);
      const remoteBuf = b.alloc(SIZE).buffer;
      const remoteBase = b.registerMem(remoteBuf).descs.at(0).addr;
      a.loadRemoteMD(b.getLocalMD());
      b.loadRemoteMD(a.getLocalMD());
      const got: Uint8Array[] = [];
      b.on('notif', (_from, msg) => got.push(msg));
      const arrived = async (n: number) => {
        const deadline = Date.now() + WAIT_MS;
        while (got.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
        expect(got.length).toBe(n);
      };

      await refuseOverLimit(c, a, b.name, localBase, remoteBase);

      // Exactly the limit goes through (the engine refuses only above it).
      const atLimit = new Uint8Array(c.limit).fill(0x5a);
      a.genNotif(b.name, atLimit);
      await arrived(1);
      expect(got[0]!.byteLength).toBe(c.limit);
      expect(got[0]!.every((x) => x === 0x5a)).toBe(true);

      fillPattern(local.subarray(0, 4096), 7);
      await a.write([{ addr: localBase, len: 4096 }], [{ addr: remoteBase, len: 4096 }], b.name, {
        notif: 'small',
        signal: AbortSignal.timeout(WAIT_MS),
      });
      await arrived(2);
      expect(Buffer.from(got[1]!).toString()).toBe('small');
      expect(sha256(remoteBuf.subarray(0, 4096))).toBe(sha256(local.subarray(0, 4096)));
      expect(a.checkRemoteMD(b.name)).toBe(true);
      expect(events).toEqual([]);
    });

    it('target in a child process: over the limit is refused, the peer stays, the next transfer works', async () => {
      const { a, localBase, local, events } = await initiator(c);
      const peer = new PeerProcess();
      peers.push(peer);
      const name = uniq('peer');
      const init = await peer.send({
        cmd: 'init',
        name,
        backend: c.backend,
        params: c.params,
        plugins: [],
        size: SIZE,
      });
      const remoteBase = BigInt(init.addr!);
      expect(a.loadRemoteMD(Buffer.from(init.md!, 'base64'))).toBe(name);
      await peer.send({ cmd: 'load', md: Buffer.from(a.getLocalMD()).toString('base64') });

      // A first transfer so a connection is up when the refusals come.
      a.genNotif(name, 'hello');
      expect((await peer.send({ cmd: 'notif', msg: 'hello', timeoutMs: WAIT_MS })).from).toBe(
        a.name,
      );

      await refuseOverLimit(c, a, name, localBase, remoteBase);

      fillPattern(local.subarray(0, 4096), 11);
      await a.write([{ addr: localBase, len: 4096 }], [{ addr: remoteBase, len: 4096 }], name, {
        notif: 'after-refusal',
        signal: AbortSignal.timeout(WAIT_MS),
      });
      const n = await peer.send({ cmd: 'notif', msg: 'after-refusal', timeoutMs: WAIT_MS });
      expect(n.error).toBeUndefined();
      expect(n.from).toBe(a.name);
      expect((await peer.send({ cmd: 'hash', off: 0, len: 4096 })).hash).toBe(
        sha256(local.subarray(0, 4096)),
      );
      a.genNotif(name, 'standalone-after');
      expect(
        (await peer.send({ cmd: 'notif', msg: 'standalone-after', timeoutMs: WAIT_MS })).error,
      ).toBeUndefined();
      expect(a.checkRemoteMD(name)).toBe(true);
      expect(events).toEqual([]);
    });
  });
}
