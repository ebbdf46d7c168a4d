/**
 * UCX backend behaviour beyond the conformance suite: parameters, creation
 * errors, event-fd progress and several workers, 1,000 registrations,
 * deregistration while a peer holds the rkey, a killed peer and reconnection,
 * and a target whose event loop is blocked.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

import { afterEach, describe, expect, it } from 'vitest';

import { parseParams } from '../../backends/ucx/params.js';
import { reportUcxUnavailable, UCX_AVAILABLE } from './ucx-gate.js';
import { UcxBackend } from '../../backends/ucx/ucx-backend.js';
import { ibDevices } from '../../backends/ucx/ib-devices.js';
import { Agent } from '../../src/agent.js';
import type { XferRequest } from '../../src/xfer-request.js';
import type { BackendParams } from '../../src/backend.js';
import {
  InvalidParamError,
  NixlError,
  NotFoundError,
  NotSupportedError,
  RemoteDisconnectError,
} from '../../src/errors.js';
import { fillPattern, sha256 } from '../../testing/pattern.js';
import { JsonLineChild, type JsonLineReply } from '../../testing/json-line-child.js';
import { PeerProcess } from '../../testing/peer-harness.js';
import { createHosts, netnsAvailable } from '../netns/netns.js';
import { notified, runWireupRounds } from './ucx-wireup-rounds.js';

const WAIT = { signal: () => AbortSignal.timeout(30_000) };
const open: Agent[] = [];

function uniq(prefix: string): string {
  return `${prefix}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

async function agent(params: BackendParams, prefix = 'ucx'): Promise<Agent> {
  const a = await Agent.create({ name: uniq(prefix), backends: [{ type: 'UCX', params }] });
  open.push(a);
  return a;
}

async function pair(params: BackendParams): Promise<[Agent, Agent]> {
  const a = await agent(params, 'a');
  const b = await agent(params, 'b');
  a.loadRemoteMD(b.getLocalMD());
  b.loadRemoteMD(a.getLocalMD());
  return [a, b];
}

afterEach(async () => {
  for (const a of open.splice(0)) await a.close();
});

/** A UCX agent in a child process (the conformance peer) serving one region of `size` bytes. */
async function spawnPeer(name: string, params: BackendParams, size: number, allocBackend?: string) {
  const peer = new PeerProcess();
  const init = await peer.send({
    cmd: 'init',
    name,
    backend: 'UCX',
    params,
    plugins: [],
    size,
    allocBackend,
  });
  return {
    peer,
    md: Buffer.from(init.md!, 'base64'),
    remote: { addr: BigInt(init.addr!), len: size },
  };
}

/**
 * Reposts `req` until a wait fails, since a transfer may finish before a fault
 * aimed at its peer lands; returns that error (undefined after 1000 clean rounds).
 */
async function repostUntilFailure(a: Agent, req: XferRequest): Promise<unknown> {
  for (let i = 0; i < 1000; i++) {
    try {
      await req.wait({ signal: AbortSignal.timeout(20_000) });
      a.postXferReq(req);
    } catch (e) {
      return e;
    }
  }
  return undefined;
}

/** spawnPeer, with metadata loaded both ways between it and `a`. */
async function connectedPeer(
  a: Agent,
  name: string,
  params: BackendParams,
  size: number,
  allocBackend?: string,
) {
  const p = await spawnPeer(name, params, size, allocBackend);
  a.loadRemoteMD(p.md);
  await p.peer.send({ cmd: 'load', md: Buffer.from(a.getLocalMD()).toString('base64') });
  return { ...p, name };
}

describe('UCX parameters', () => {
  it('maps profiles, aliases and extra config to UCX keys', () => {
    expect(parseParams({ profile: 'tcp' }).config).toEqual([['TLS', 'tcp']]);
    expect(parseParams({ profile: 'ib' }).transports).toBe('rc,dc,ud,self,sm');
    const o = parseParams({
      transports: 'tcp, cma',
      ucx_devices: 'lo',
      num_workers: '3',
      ucx_error_handling_mode: 'none',
      progress: 'event',
      config: 'RNDV_THRESH=16k,UCX_TLS_EXTRA=a,b',
      'ucx.keepalive_interval': '1s',
    });
    expect(o.numWorkers).toBe(3);
    expect(o.errorHandling).toBe('none');
    expect(parseParams({ profile: 'shm' }).errorHandling).toBe('peer');
    expect(parseParams({ profile: 'shm', errorHandling: 'process' }).errorHandling).toBe('process');
    expect(o.progress).toBe('event');
    expect(o.config).toEqual([
      ['TLS', 'tcp,cma'],
      ['NET_DEVICES', 'lo'],
      ['RNDV_THRESH', '16k'],
      ['TLS_EXTRA', 'a,b'],
      ['KEEPALIVE_INTERVAL', '1s'],
    ]);
  });

  it('refuses bad values with InvalidParamError naming the parameter', () => {
    expect(() => parseParams({ profile: 'tcp', transports: 'tcp' })).toThrow(/either profile/);
    expect(() => parseParams({ profile: 'carrier-pigeon' })).toThrow(InvalidParamError);
    expect(() => parseParams({ numWorkers: '0' })).toThrow(/numWorkers/);
    expect(() => parseParams({ numWorkers: '1.5' })).toThrow(/numWorkers/);
    expect(() => parseParams({ errorHandling: 'maybe' })).toThrow(/errorHandling/);
    expect(() => parseParams({ progress: 'sometimes' })).toThrow(/progress/);
    expect(() => parseParams({ timeout_ms: '-1' })).toThrow(/timeout_ms/);
    expect(() => parseParams({ timeout_ms: '1e3' })).toThrow(/timeout_ms/);
    expect(parseParams({}).timeoutMs).toBe(10_000);
    expect(parseParams({ timeoutMs: '0' }).timeoutMs).toBe(0);
    expect(() => parseParams({ config: 'nokey' })).toThrow(/KEY=VALUE/);
    expect(() => parseParams({ config: 'bad key=1' })).toThrow(/configuration key/);
  });

  it.skipIf(!UCX_AVAILABLE)(
    'a UCX config value UCX refuses fails creation with UCX status text',
    async () => {
      const a = await Agent.create({ name: uniq('cfg') });
      open.push(a);
      expect(a.getAvailPlugins()).toContain('UCX');
      const err = await a.createBackend('UCX', { config: 'RNDV_THRESH=banana' }).catch((e) => e);
      expect(err).toBeInstanceOf(InvalidParamError);
      expect(String(err.message)).toMatch(/RNDV_THRESH=banana: UCX says '.+'/);
      const bad = await a.createBackend('UCX', { transports: 'no_such_transport' }).catch((e) => e);
      expect(bad).toBeInstanceOf(NixlError);
    },
  );

  it.skipIf(ibDevices().length > 0)(
    "the 'ib' profile without an IB device says what is missing",
    async () => {
      const a = await Agent.create({ name: uniq('ib') });
      open.push(a);
      const err = await a.createBackend('UCX', { profile: 'ib' }).catch((e) => e);
      expect(err).toBeInstanceOf(NotFoundError);
      expect(String(err.message)).toMatch(/InfiniBand or RoCE device/);
    },
  );
});

describe.skipIf(!UCX_AVAILABLE)('UCX event-fd progress and several workers', () => {
  for (const progress of ['event', 'thread']) {
    it(`${progress}: WRITE/READ/notifications on each of 3 workers, worker_id honoured`, async () => {
      const [a, b] = await pair({ profile: 'tcp', devices: 'lo', progress, numWorkers: '3' });
      const la = a.alloc(4 << 20).buffer;
      const lb = b.alloc(4 << 20).buffer;
      const ra = a.registerMem(la).descs.at(0);
      const rb = b.registerMem(lb).descs.at(0);
      a.loadRemoteMD(b.getLocalMD());
      for (let w = 0; w < 3; w++) {
        fillPattern(la, 100 + w);
        const msg = `w${w}-${progress}`;
        const got = notified(b, msg);
        const req = a.createXferReq('WRITE', [ra], [rb], b.name, {
          notif: msg,
          customParam: Buffer.from(`worker_id=${w}`),
        });
        a.postXferReq(req);
        await req.wait({ signal: WAIT.signal() });
        expect(await got).toBe(a.name);
        expect(sha256(lb)).toBe(sha256(la));
        req.release();
        fillPattern(lb, 200 + w);
        await a.read([ra], [rb], b.name, { signal: WAIT.signal() });
        expect(sha256(la)).toBe(sha256(lb));
      }
      expect(() =>
        a.createXferReq('WRITE', [ra], [rb], b.name, { customParam: Buffer.from('worker_id=3') }),
      ).toThrow(InvalidParamError);
      expect((a.backends[0] as UcxBackend).options.numWorkers).toBe(3);
    });
  }

  it('event mode: a caller spinning on getXferStatus makes progress itself', async () => {
    // The target progresses on its own thread; the initiator's loop never turns.
    const a = await agent({ profile: 'tcp', devices: 'lo', progress: 'event' }, 'spin');
    const b = await agent({ profile: 'tcp', devices: 'lo', progress: 'thread' }, 'tgt');
    const la = a.alloc(1 << 20).buffer;
    const lb = b.alloc(1 << 20).buffer;
    fillPattern(la, 7);
    const ra = a.registerMem(la).descs.at(0);
    const rb = b.registerMem(lb).descs.at(0);
    a.loadRemoteMD(b.getLocalMD());
    b.loadRemoteMD(a.getLocalMD());
    const req = a.createXferReq('WRITE', [ra], [rb], b.name);
    a.postXferReq(req);
    // No await: only checkXfer's own progress can move this transfer.
    const deadline = Date.now() + 20_000;
    let state = a.getXferStatus(req);
    while (state !== 'DONE' && Date.now() < deadline) state = a.getXferStatus(req);
    expect(state).toBe('DONE');
    expect(sha256(lb)).toBe(sha256(la));
  });
});

describe.skipIf(!UCX_AVAILABLE)('UCX registrations', () => {
  it('1,000 registrations: all usable by a peer, all deregistered', async () => {
    const [a, b] = await pair({ profile: 'tcp', devices: 'lo' });
    const page = 4096;
    const N = 1000;
    const big = b.alloc(N * page).buffer;
    const regs = [];
    for (let i = 0; i < N; i++) regs.push(b.registerMem(big.subarray(i * page, (i + 1) * page)));
    a.loadRemoteMD(b.getLocalMD());
    expect(a.getRemoteRegions(b.name).length).toBe(N);
    const src = a.alloc(N * page).buffer;
    fillPattern(src, 5);
    const lreg = a.registerMem(src).descs.at(0);
    // One transfer touching every region.
    const local = [];
    const remote = [];
    for (let i = 0; i < N; i++) {
      local.push({ addr: lreg.addr + BigInt(i * page), len: page });
      remote.push(regs[i]!.descs.at(0));
    }
    await a.write(local, remote, b.name, { signal: WAIT.signal() });
    expect(sha256(big)).toBe(sha256(src));
    for (const r of regs) b.deregisterMem(r);
    expect(b.getLocalMD().length).toBeLessThan(10_000);
  }, 120_000);

  it('many small transfers posted at once share flushes; each notification follows its data', async () => {
    // Posted back to back, they wait for their endpoint's flush in flight and
    // then share the next one (EpFlush); a notification still follows its data.
    const [a, b] = await pair({ profile: 'tcp', devices: 'lo' });
    const N = 64;
    const page = 4096;
    const la = a.alloc(N * page).buffer;
    const ra = a.registerMem(la).descs.at(0);
    const lb = b.alloc(N * page).buffer;
    const rb = b.registerMem(lb).descs.at(0);
    a.loadRemoteMD(b.getLocalMD());
    for (let round = 0; round < 3; round++) {
      fillPattern(la, 50 + round);
      const seen: string[] = [];
      const hashes = new Map<string, string>();
      const all = new Promise<void>((resolve) => {
        const on = (_from: string, msg: Uint8Array) => {
          const text = Buffer.from(msg).toString();
          if (!text.startsWith(`r${round}-`)) return;
          const i = Number(text.split('-')[1]);
          hashes.set(text, sha256(lb.subarray(i * page, (i + 1) * page)));
          seen.push(text);
          if (seen.length === N) {
            b.off('notif', on);
            resolve();
          }
        };
        b.on('notif', on);
      });
      const reqs = [];
      for (let i = 0; i < N; i++) {
        const req = a.createXferReq(
          'WRITE',
          [{ addr: ra.addr + BigInt(i * page), len: page }],
          [{ addr: rb.addr + BigInt(i * page), len: page }],
          b.name,
          { notif: `r${round}-${i}` },
        );
        a.postXferReq(req);
        reqs.push(req);
      }
      await Promise.all(reqs.map((r) => r.wait({ signal: WAIT.signal() })));
      await all;
      for (const r of reqs) r.release();
      // Each notification found its own page already written.
      for (let i = 0; i < N; i++) {
        expect(hashes.get(`r${round}-${i}`)).toBe(sha256(la.subarray(i * page, (i + 1) * page)));
      }
    }
  }, 120_000);

  it("deregistration while a peer holds the rkey: the peer's READ/WRITE fails cleanly", async () => {
    const [a, b] = await pair({ profile: 'tcp', devices: 'lo' });
    const la = a.alloc(1 << 20).buffer;
    const lreg = a.registerMem(la).descs.at(0);
    const doomed = b.alloc(1 << 20).buffer;
    const kept = b.alloc(1 << 20).buffer;
    const doomedReg = b.registerMem(doomed);
    const keptReg = b.registerMem(kept);
    a.loadRemoteMD(b.getLocalMD());
    const target = doomedReg.descs.at(0);
    const prepped = a.createXferReq('WRITE', [lreg], [target], b.name);
    fillPattern(la, 9);
    await a.write([lreg], [target], b.name, { signal: WAIT.signal() });
    expect(sha256(doomed)).toBe(sha256(la));

    b.deregisterMem(doomedReg);
    // The revocation travels on the same endpoint as this notification, ahead of it.
    const told = notified(a, 'deregistered');
    b.genNotif(a.name, 'deregistered');
    await told;
    const before = sha256(doomed);
    fillPattern(la, 10);
    for (const op of ['WRITE', 'READ'] as const) {
      const err = await (op === 'WRITE' ? a.write : a.read)
        .call(a, [lreg], [target], b.name)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NotFoundError);
      expect(String((err as Error).message)).toMatch(/deregistered/);
    }
    expect(() => a.postXferReq(prepped)).toThrow(NotFoundError);
    expect(sha256(doomed)).toBe(before);
    // Both sides keep working.
    await a.write([lreg], [keptReg.descs.at(0)], b.name, { signal: WAIT.signal() });
    expect(sha256(kept)).toBe(sha256(la));
    expect(a.checkRemoteMD(b.name)).toBe(true);
  });
});

describe.skipIf(!UCX_AVAILABLE)('UCX lifetime and modes', () => {
  it('closing an agent with transfers in flight settles them; the peer keeps working', async () => {
    const [a, b] = await pair({ profile: 'tcp', devices: 'lo' });
    const c = await agent({ profile: 'tcp', devices: 'lo' }, 'c');
    const la = a.alloc(64 << 20).buffer;
    const lb = b.alloc(64 << 20).buffer;
    const ra = a.registerMem(la).descs.at(0);
    const rb = b.registerMem(lb).descs.at(0);
    a.loadRemoteMD(b.getLocalMD());
    const reqs = [0, 1, 2, 3].map(() => a.createXferReq('WRITE', [ra], [rb], b.name));
    for (const r of reqs) a.postXferReq(r);
    const settled = Promise.allSettled(reqs.map((r) => r.done));
    await a.close();
    for (const s of await settled) {
      if (s.status === 'rejected') expect(s.reason).toBeInstanceOf(NixlError);
    }
    // b serves another peer as before.
    const lc = c.alloc(1 << 20).buffer;
    fillPattern(lc, 4);
    const rc = c.registerMem(lc).descs.at(0);
    c.loadRemoteMD(b.getLocalMD());
    await c.write([rc], [{ addr: rb.addr, len: 1 << 20 }], b.name, { signal: WAIT.signal() });
    expect(sha256(lb.subarray(0, 1 << 20))).toBe(sha256(lc));
  });

  // UCX 1.13's tcp transport crashed the target when a wireup request it could
  // not match to an endpoint of its own shared a socket read with the data
  // behind it (see UcxEngine::MakePeer). Remade endpoints (a reload of full
  // metadata) and a target that never loads the initiator are such requests;
  // transfers posted right after loading are the data behind them. Before the
  // fix this crashed 7 runs in 10, but only with a second interface beside lo
  // (UCX then also dialled the host's own address); tests stay on loopback, so
  // here it checks that these endpoints work, and rarely the crash itself.
  it('transfers posted at once on remade and one-way endpoints', async () => {
    await runWireupRounds(8, 'lo');
  }, 120_000);

  it.skipIf(!netnsAvailable())(
    'the same rounds inside a private network namespace with a second interface beside lo',
    async () => {
      // The condition under which the wireup crash reproduced (7 runs in 10
      // before the fix): UCX's default devices, here lo and the namespace's
      // own eth0, all inside a namespace this test made.
      const hosts = createHosts(1, 'u');
      try {
        const script = fileURLToPath(new URL('./fixtures/ucx-wireup-rounds.ts', import.meta.url));
        const child = hosts.spawn(0, process.execPath, ['--import', 'tsx', script, '8'], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout!.on('data', (d) => (out += d));
        child.stderr!.on('data', (d) => (out += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), 100_000);
        const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
          child.on('exit', (c, s) => resolve([c, s])),
        );
        clearTimeout(timer);
        expect({ code, signal, out: out.slice(-2000) }).toMatchObject({ code: 0, signal: null });
        expect(out).toContain('ok');
      } finally {
        hosts.destroy();
      }
    },
    120_000,
  );

  it("errorHandling 'none' still moves data and notifications", async () => {
    const [a, b] = await pair({ profile: 'tcp', devices: 'lo', errorHandling: 'none' });
    const la = a.alloc(1 << 20).buffer;
    const lb = b.alloc(1 << 20).buffer;
    const ra = a.registerMem(la).descs.at(0);
    const rb = b.registerMem(lb).descs.at(0);
    a.loadRemoteMD(b.getLocalMD());
    fillPattern(la, 12);
    const got = notified(b, 'plain');
    await a.write([ra], [rb], b.name, { notif: 'plain', signal: WAIT.signal() });
    expect(await got).toBe(a.name);
    expect(sha256(lb)).toBe(sha256(la));
  });
});

describe.skipIf(!UCX_AVAILABLE)('UCX-allocated memory (agent.alloc with backend UCX)', () => {
  it('is zeroed, registers with its own mapping, and moves data over shared memory', async () => {
    const [a, b] = await pair({ profile: 'shm', devices: 'lo', errorHandling: 'none' });
    const { buffer: la, desc } = a.alloc(3 << 20, { backend: 'UCX' });
    const lb = b.alloc(3 << 20, { backend: 'UCX' }).buffer;
    expect(la.length).toBe(3 << 20);
    expect(la.every((x) => x === 0)).toBe(true);
    const ra = a.registerMem(la).descs.at(0);
    expect(ra.addr).toBe(desc.addr);
    // A region inside the allocation (not its start) uses the allocation's mapping too.
    const inner = b.registerMem(lb.subarray(4096, 4096 + (2 << 20))).descs.at(0);
    a.loadRemoteMD(b.getLocalMD());
    fillPattern(la, 21);
    const got = notified(b, 'shm-alloc');
    await a.write([{ ...ra, len: 2 << 20 }], [inner], b.name, {
      notif: 'shm-alloc',
      signal: WAIT.signal(),
    });
    expect(await got).toBe(a.name);
    expect(sha256(lb.subarray(4096, 4096 + (2 << 20)))).toBe(sha256(la.subarray(0, 2 << 20)));
    fillPattern(lb, 22);
    await a.read([{ ...ra, len: 2 << 20 }], [inner], b.name, { signal: WAIT.signal() });
    expect(sha256(la.subarray(0, 2 << 20))).toBe(sha256(lb.subarray(4096, 4096 + (2 << 20))));
  });

  it('posts that complete at once mix with transfers that need progress, across processes', async () => {
    // Toward a peer's UCX-allocated region a put or get is a copy that ends
    // inside the post (no event, no wake-up of the progress thread); toward a
    // private region UCX emulates it with active messages that need progress.
    // Both kinds in flight together, reposted, must all finish with the right bytes.
    const params = { profile: 'shm', devices: 'lo', errorHandling: 'process' };
    const a = await agent(params, 'mix');
    const size = 1 << 20;
    const la = a.alloc(2 * size, { backend: 'UCX' }).buffer;
    const lreg = a.registerMem(la).descs.at(0);
    const mapped = await connectedPeer(a, uniq('mapped'), params, size, 'UCX');
    const priv = await connectedPeer(a, uniq('private'), params, size);
    try {
      fillPattern(la, 31);
      const chunk = 4096;
      const reqs: XferRequest[] = [];
      for (let i = 0; i < 16; i++) {
        const off = i * chunk;
        const peer = i % 2 ? priv : mapped;
        reqs.push(
          a.createXferReq(
            'WRITE',
            [{ addr: lreg.addr + BigInt(off), len: chunk }],
            [{ addr: peer.remote.addr + BigInt(off), len: chunk }],
            peer.name,
          ),
        );
      }
      let inline = 0;
      await Promise.all(
        reqs.map(async (r) => {
          for (let round = 0; round < 200; round++) {
            if (a.postXferReq(r) === 'DONE') inline++;
            else await r.wait({ signal: WAIT.signal() });
          }
        }),
      );
      expect(inline).toBeGreaterThan(0); // the mapped peer's posts did end inside the call
      // A notification after both kinds, then the bytes on each peer.
      await a.write([{ addr: lreg.addr, len: size }], [mapped.remote], mapped.name, {
        notif: 'mapped-done',
        signal: WAIT.signal(),
      });
      await a.write([{ addr: lreg.addr, len: size }], [priv.remote], priv.name, {
        notif: 'private-done',
        signal: WAIT.signal(),
      });
      for (const [p, msg] of [
        [mapped, 'mapped-done'],
        [priv, 'private-done'],
      ] as const) {
        expect((await p.peer.send({ cmd: 'notif', msg, timeoutMs: 30_000 })).from).toBe(a.name);
        expect((await p.peer.send({ cmd: 'hash', off: 0, len: size })).hash).toBe(
          sha256(la.subarray(0, size)),
        );
      }
      // READs back into the second half, from both.
      for (const p of [mapped, priv]) {
        la.fill(0, size);
        await a.read([{ addr: lreg.addr + BigInt(size), len: size }], [p.remote], p.name, {
          signal: WAIT.signal(),
        });
        expect(sha256(la.subarray(size))).toBe(sha256(la.subarray(0, size)));
      }
      for (const r of reqs) r.release();
    } finally {
      await mapped.peer.close();
      await priv.peer.close();
    }
  }, 60_000);

  it('stays valid after the agent closed', async () => {
    const a = await agent({ profile: 'shm', devices: 'lo' });
    const { buffer } = a.alloc(1 << 20, { backend: 'UCX' });
    a.registerMem(buffer);
    await a.close();
    buffer.fill(7);
    expect(buffer[(1 << 20) - 1]).toBe(7);
  });

  it('bad requests get typed errors', async () => {
    const a = await agent({ profile: 'tcp', devices: 'lo' });
    expect(() => a.alloc(0, { backend: 'UCX' })).toThrow(InvalidParamError);
    expect(() => a.alloc(4096, { backend: 'TCP' })).toThrow(NotFoundError);
    const l = await Agent.create({ name: uniq('local'), backends: [{ type: 'LOCAL' }] });
    open.push(l);
    expect(() => l.alloc(4096, { backend: 'LOCAL' })).toThrow(NotSupportedError);
  });
});

describe.skipIf(!UCX_AVAILABLE)('UCX peer failure', () => {
  it('a peer killed mid-transfer: RemoteDisconnectError in bounded time, a reload reconnects', async () => {
    const params = { profile: 'tcp', devices: 'lo' };
    const a = await agent(params, 'init');
    const la = a.alloc(64 << 20).buffer;
    const lreg = a.registerMem(la).descs.at(0);
    const name = uniq('victim');
    const start = () => connectedPeer(a, name, params, 64 << 20);
    const first = await start();
    const disconnected = new Promise<unknown>((r) => a.once('peer:disconnect', (_n, e) => r(e)));
    const req = a.createXferReq('WRITE', [lreg], [first.remote], name);
    a.postXferReq(req);
    const t0 = Date.now();
    await first.peer.kill('SIGKILL');
    const failure = await repostUntilFailure(a, req);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(a.checkRemoteMD(name)).toBe(false);
    // Either a transfer failed with RemoteDisconnectError, or the endpoint error
    // reached the agent first (it dropped the peer, so the repost found no peer).
    if (!(failure instanceof RemoteDisconnectError)) {
      const ev = await Promise.race([disconnected, new Promise((r) => setTimeout(r, 5000))]);
      expect(ev).toBeInstanceOf(RemoteDisconnectError);
    }

    const second = await start();
    try {
      fillPattern(la.subarray(0, 1 << 20), 77);
      await a.write(
        [{ addr: lreg.addr, len: 1 << 20 }],
        [{ addr: second.remote.addr, len: 1 << 20 }],
        name,
        {
          notif: 'back',
          signal: WAIT.signal(),
        },
      );
      const r = await second.peer.send({ cmd: 'notif', msg: 'back', timeoutMs: 30_000 });
      expect(r.from).toBe(a.name);
      expect((await second.peer.send({ cmd: 'hash', off: 0, len: 1 << 20 })).hash).toBe(
        sha256(la.subarray(0, 1 << 20)),
      );
    } finally {
      await second.peer.close();
    }
  }, 120_000);

  it.each(['tcp', 'shm'])(
    '%s: a peer frozen with SIGSTOP mid-transfer times out (timeout_ms) and is dropped; a restarted peer works',
    async (profile) => {
      // UCX notices neither: a stopped process keeps its sockets open and its
      // shared-memory segments mapped, so without timeout_ms this WRITE waits forever.
      const params = { profile, devices: 'lo', timeout_ms: '1500' };
      const a = await agent(params, 'init');
      const la = a.alloc(64 << 20).buffer;
      const lreg = a.registerMem(la).descs.at(0);
      const name = uniq('frozen');
      const first = await connectedPeer(a, name, params, 64 << 20);
      const disconnected = new Promise<unknown>((r) => a.once('peer:disconnect', (_n, e) => r(e)));
      const req = a.createXferReq('WRITE', [lreg], [first.remote], name);
      try {
        a.postXferReq(req);
        first.peer.signal('SIGSTOP');
        const t0 = Date.now();
        const failure = await repostUntilFailure(a, req);
        expect(Date.now() - t0).toBeLessThan(10_000);
        expect(failure).toBeInstanceOf(RemoteDisconnectError);
        expect(String((failure as Error).message)).toContain('timed out');
        expect(await disconnected).toBeInstanceOf(RemoteDisconnectError);
        expect(a.checkRemoteMD(name)).toBe(false);
      } finally {
        req.release();
        await first.peer.kill('SIGKILL');
      }

      const second = await connectedPeer(a, name, params, 64 << 20);
      try {
        fillPattern(la.subarray(0, 1 << 20), 78);
        await a.write(
          [{ addr: lreg.addr, len: 1 << 20 }],
          [{ addr: second.remote.addr, len: 1 << 20 }],
          name,
          { signal: WAIT.signal() },
        );
        expect((await second.peer.send({ cmd: 'hash', off: 0, len: 1 << 20 })).hash).toBe(
          sha256(la.subarray(0, 1 << 20)),
        );
      } finally {
        await second.peer.close();
      }
    },
    120_000,
  );
});

describe.skipIf(!UCX_AVAILABLE)('timeout_ms', () => {
  it('a busy, healthy peer is never timed out, even with a short timeout_ms', async () => {
    // Completions count on the progress thread (or inside a post) while the
    // check runs on a JavaScript timer: a peer that keeps completing must
    // never read as stalled, whichever side of a check its completions land.
    const params = { profile: 'shm', devices: 'lo', errorHandling: 'process', timeout_ms: '100' };
    const a = await agent(params, 'busy');
    const lreg = a.registerMem(a.alloc(1 << 20).buffer).descs.at(0);
    const name = uniq('busy-peer');
    const { peer, remote } = await connectedPeer(a, name, params, 1 << 20);
    const reqs = Array.from({ length: 16 }, (_, i) =>
      a.createXferReq(
        'WRITE',
        [{ addr: lreg.addr + BigInt(i * 4096), len: 4096 }],
        [{ addr: remote.addr + BigInt(i * 4096), len: 4096 }],
        name,
      ),
    );
    try {
      let done = 0;
      const deadline = Date.now() + 3000;
      await Promise.all(
        reqs.map(async (r) => {
          while (Date.now() < deadline) {
            if (r.post() !== 'DONE') await r.wait({ signal: WAIT.signal() });
            done++;
          }
        }),
      );
      expect(done).toBeGreaterThan(1000);
      expect(a.checkRemoteMD(name)).toBe(true);
    } finally {
      for (const r of reqs) r.release();
      await peer.close();
    }
  }, 60_000);
});

describe.skipIf(!UCX_AVAILABLE)("errorHandling 'process'", () => {
  it.each(['thread', 'event'])(
    'progress %s: a peer that exits mid-transfer: the transfer fails, and sends stuck toward it do not keep progress spinning',
    async (progress) => {
      const params = { profile: 'shm', devices: 'lo', errorHandling: 'process', progress };
      const a = await agent(params, 'survivor');
      const la = a.alloc(64 << 20).buffer;
      const lr = a.registerMem(la).descs.at(0);
      const name = uniq('exits');
      const { peer, remote } = await connectedPeer(a, name, params, 64 << 20);
      const gone = new Promise((r) => a.once('peer:disconnect', r));
      // Private memory: UCX emulates the put with active messages the target
      // must take from its shared-memory queue, so some are still queued when
      // it dies.
      const req = a.createXferReq('WRITE', [lr], [remote], name);
      a.postXferReq(req);
      await peer.kill('SIGKILL');
      // Noticed through the peer's process, not through UCX.
      const err = await req.wait({ signal: AbortSignal.timeout(20_000) }).catch((e) => e);
      expect(err).toBeInstanceOf(RemoteDisconnectError);
      expect(String(err.message)).toMatch(/on this host\) exited/);
      await gone;
      // A spinning progress thread would use a whole core; idle is near zero.
      const before = process.cpuUsage();
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, 2000));
      const used = process.cpuUsage(before);
      const share = (used.user + used.system) / 1000 / (performance.now() - t0);
      expect(share).toBeLessThan(0.5);
    },
    60_000,
  );

  it('metadata of a same-host agent whose process has exited is refused', async () => {
    const params = { profile: 'shm', devices: 'lo', errorHandling: 'process' };
    const a = await agent(params, 'loader');
    const { peer, md } = await spawnPeer(uniq('gone'), params, 1 << 20);
    await peer.kill('SIGKILL');
    const err = (() => {
      try {
        a.loadRemoteMD(md);
      } catch (e) {
        return e;
      }
    })();
    // The agent refuses the metadata; the backend's reason is the cause.
    expect((err as Error).cause).toBeInstanceOf(RemoteDisconnectError);
    expect(String((err as Error).message)).toMatch(/on this host\) has exited/);
  });
});

describe.skipIf(!UCX_AVAILABLE)('UCX progress thread keeps a blocked target serving', () => {
  it("WRITEs complete while the target's JavaScript thread is blocked", async () => {
    const a = await agent({ profile: 'tcp', devices: 'lo' }, 'writer');
    const la = a.alloc(16 << 20).buffer;
    fillPattern(la, 3);
    const lreg = a.registerMem(la).descs.at(0);
    const script = fileURLToPath(new URL('./fixtures/ucx-busy-peer.ts', import.meta.url));
    const name = uniq('busy');
    const child = new JsonLineChild<JsonLineReply & { hash?: string; notifs?: string[] }>(
      script,
      'busy peer',
      {},
      { args: [name, 'thread', String(16 << 20)] },
    );
    try {
      const hello = await child.nextEvent('ready', 30_000);
      a.loadRemoteMD(Buffer.from(String(hello.md), 'base64'));
      const blockMs = 8000;
      const blocked = child.nextEvent('blocked', 30_000);
      const answer = child.send({
        cmd: 'block',
        md: Buffer.from(a.getLocalMD()).toString('base64'),
        blockMs,
      });
      expect(await blocked).toEqual({ event: 'blocked' });
      const t0 = Date.now();
      // 16 writes of 1 MiB, each with a notification, all while the target is blocked.
      for (let i = 0; i < 16; i++) {
        await a.write(
          [{ addr: lreg.addr + BigInt(i << 20), len: 1 << 20 }],
          [{ addr: BigInt(String(hello.addr)) + BigInt(i << 20), len: 1 << 20 }],
          name,
          { notif: `n${i}` },
        );
      }
      const elapsed = Date.now() - t0;
      const done = await answer;
      // The writes finished before the target's thread woke up.
      expect(elapsed).toBeLessThan(blockMs);
      expect(done.hash).toBe(sha256(la));
      expect(done.notifs).toEqual(Array.from({ length: 16 }, (_, i) => `n${i}`));
    } finally {
      await child.kill();
    }
  }, 60_000);
});

if (!UCX_AVAILABLE) reportUcxUnavailable('UCX backend tests that create UCX contexts');
