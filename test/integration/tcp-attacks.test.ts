/**
 * DESIGN.md rule 3 from the outside: the attacker runs in its own process
 * (tcp-attacker.ts) and speaks the TCP data plane's wire format directly,
 * holding everything a peer that loaded the target's metadata holds. Loopback
 * and this host's Unix sockets only.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { RemoteDisconnectError } from '../../src/errors.js';
import type { Registration } from '../../src/registration.js';
import { Status } from '../../src/status.js';
import { JsonLineChild, type JsonLineReply } from '../../testing/json-line-child.js';
import { fillPattern, sha256 } from '../../testing/pattern.js';
import { cpuMs } from '../proc-stat.js';
import { FrameClient, targetInfo } from './tcp-frame-client.js';
import { TcpPeer } from './tcp-peer-process.js';

const ATTACKER = fileURLToPath(new URL('./tcp-attacker.ts', import.meta.url));
const CANARY = 4096;
const LEN = 64 * 1024;
const MiB = 1024 * 1024;

class Attacker extends JsonLineChild<JsonLineReply & Record<string, any>> {
  constructor() {
    super(ATTACKER, 'attacker');
  }
  override send(c: Record<string, unknown> & { cmd: string }, timeoutMs = 60_000): Promise<any> {
    return super.send(c, timeoutMs);
  }
}

/** Resolves once `cond` holds; fails after `ms`. */
async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Resident memory of a process, MiB. */
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

describe('TCP target against an attacker in another process', () => {
  let target: Agent;
  let buf: Buffer;
  let attacker: Attacker;
  let md: Buffer;
  let region: Registration;

  /** The target's memory outside its region: canaries before and after it. */
  const outside = () =>
    sha256(Buffer.concat([buf.subarray(0, CANARY), buf.subarray(CANARY + LEN)]));

  beforeAll(async () => {
    target = await Agent.create({
      name: `attacked-${process.pid}`,
      backends: [{ type: 'TCP', params: { same_host: 'auto' } }],
    });
    buf = target.alloc(LEN + 2 * CANARY).buffer;
    buf.fill(0xa5);
    region = target.registerMem(buf.subarray(CANARY, CANARY + LEN));
    md = Buffer.from(target.getLocalMD());
    attacker = new Attacker();
    await attacker.send({ cmd: 'target', md: md.toString('base64') });
  });

  afterAll(async () => {
    await attacker?.close();
    await target?.close();
  });

  it('asking for same-host copies over TCP is not granted, and a same-host frame then closes the connection', async () => {
    const before = outside();
    const r = await attacker.send({ cmd: 'cmaOverTcp', name: 'remote-asker' });
    expect(r.granted).toBe(false);
    expect(r.closed).toBe(true);
    expect(outside()).toBe(before);
  });

  it('same-host copies over the Unix socket reach only the connecting process: every bad list is refused whole, the target’s own addresses are never copied', async () => {
    const before = outside();
    const region = Buffer.from(buf.subarray(CANARY, CANARY + LEN));
    const r = await attacker.send({ cmd: 'cmaOverUnix', name: 'local-asker' });
    expect(r.granted).toBe(true);
    expect(r.results.goodThenBadKey).toBe(Status.ERR_NOT_ALLOWED);
    expect(r.results.pastEnd).toBe(Status.ERR_INVALID_PARAM);
    expect(r.results.beforeStart).toBe(Status.ERR_INVALID_PARAM);
    // The "initiator" addresses are the target's canary: copies go to and
    // from the attacker's own address space there (unmapped: an error).
    expect(r.results.pullFromTargetAddr).not.toBe('closed');
    expect(r.results.pushToTargetAddr).not.toBe('closed');
    expect(outside()).toBe(before);
    // Whatever was pulled in came from the attacker's memory, not the target's canary.
    const now = buf.subarray(CANARY, CANARY + 64);
    if (r.results.pullFromTargetAddr === Status.SUCCESS) {
      expect(now.equals(Buffer.alloc(64, 0xa5))).toBe(false);
    } else {
      expect(now.equals(region.subarray(0, 64))).toBe(true);
    }
  });

  it('the target’s own process is never granted same-host copies, even over its Unix socket', async () => {
    const c = await FrameClient.open(targetInfo(md), 'self-asker', { cma: true, unix: true });
    try {
      expect(c.cma).toBe(false);
    } finally {
      c.close();
    }
  });

  it('a HELLO under the name of an agent whose metadata the target loaded is refused; its notifications cannot be forged', async () => {
    const victim = await Agent.create({ name: `victim-${process.pid}`, backends: ['TCP'] });
    try {
      target.loadRemoteMD(victim.getLocalMD());
      const got: string[] = [];
      const listener = (from: string, msg: Uint8Array) => got.push(`${from}:${Buffer.from(msg)}`);
      target.on('notif', listener);
      const forged = await attacker.send({ cmd: 'hello', name: victim.name, notif: 'forged' });
      expect(forged.accepted).toBe(false);
      // Another name is fine (the attacker holds the target's metadata) and
      // its notification carries the name it authenticated with.
      const own = await attacker.send({ cmd: 'hello', name: 'attacker-own', notif: 'mine' });
      expect(own.accepted).toBe(true);
      // The real victim still gets in.
      victim.loadRemoteMD(md);
      victim.genNotif(target.name, 'real');
      const deadline = Date.now() + 10_000;
      while (got.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      target.off('notif', listener);
      expect(got.sort()).toEqual(['attacker-own:mine', `${victim.name}:real`].sort());
    } finally {
      await victim.close();
    }
  });

  it('a HELLO under the target’s own name is refused: nobody notifies it as itself', async () => {
    const got: string[] = [];
    const listener = (from: string, msg: Uint8Array) => got.push(`${from}:${Buffer.from(msg)}`);
    target.on('notif', listener);
    try {
      const forged = await attacker.send({ cmd: 'hello', name: target.name, notif: 'from me' });
      expect(forged.accepted).toBe(false);
      // Its own notification still arrives, from itself.
      target.genNotif(target.name, 'really me');
      await until(() => got.length > 0);
      expect(got).toEqual([`${target.name}:really me`]);
    } finally {
      target.off('notif', listener);
    }
  });

  it('a name a HELLO bound first (trust on first use) is re-bound by its metadata: that connection closes and no longer speaks as the name; the real agent then transfers', async () => {
    const victim = await Agent.create({ name: `late-md-${process.pid}`, backends: ['TCP'] });
    const got: string[] = [];
    const listener = (from: string, msg: Uint8Array) => got.push(`${from}:${Buffer.from(msg)}`);
    target.on('notif', listener);
    try {
      // The name is free: the attacker binds it with its own key.
      const held = await attacker.send({ cmd: 'holdHello', name: victim.name, notif: 'before' });
      expect(held.accepted).toBe(true);
      await until(() => got.includes(`${victim.name}:before`));
      // While it holds the name, another key cannot take it.
      const second = await attacker.send({ cmd: 'hello', name: victim.name, notif: 'second' });
      expect(second.accepted).toBe(false);
      target.loadRemoteMD(victim.getLocalMD());
      const closed = await attacker.send({ cmd: 'heldWaitClosed', timeoutMs: 10_000 });
      expect(closed.closed).toBe(true);
      // Whatever it would still send under that name, and a new HELLO with its key.
      await attacker.send({ cmd: 'heldNotif', notif: 'after' });
      const again = await attacker.send({ cmd: 'hello', name: victim.name, notif: 'again' });
      expect(again.accepted).toBe(false);
      // The real agent of that name writes, with a notification.
      const src = victim.alloc(LEN).buffer;
      fillPattern(src, 7);
      const srcReg = victim.registerMem(src);
      victim.loadRemoteMD(md);
      await victim.write(srcReg.descs, region.descs, target.name, {
        notif: 'real',
        signal: AbortSignal.timeout(30_000),
      });
      expect(sha256(buf.subarray(CANARY, CANARY + LEN))).toBe(sha256(src));
      await until(() => got.includes(`${victim.name}:real`));
      // Give a late 'after' the time to arrive: it must not.
      await new Promise((r) => setTimeout(r, 300));
      expect(got.filter((g) => g.startsWith(`${victim.name}:`))).toEqual([
        `${victim.name}:before`,
        `${victim.name}:real`,
      ]);
    } finally {
      target.off('notif', listener);
      target.invalidateRemoteMD(victim.name);
      await victim.close();
    }
  });

  it('metadata that re-keys a name (removed, then loaded with another key) closes the connections of the old key: the old agent’s next transfer fails, the new one transfers', async () => {
    const name = `rekeyed-${process.pid}`;
    const old = await TcpPeer.start(name, LEN, {});
    const fresh = await Agent.create({ name, backends: ['TCP'] });
    try {
      target.loadRemoteMD(old.mdBytes);
      await old.send({ cmd: 'load', md: md.toString('base64') });
      const addr = region.descs.at(0).addr.toString();
      await old.send({ cmd: 'fill', off: 0, len: LEN, seed: 1 });
      // The old agent connects and writes: its connection stays open.
      await old.send({ cmd: 'write', to: target.name, descs: [[0, addr, LEN]] });
      const oldHash = (await old.send({ cmd: 'hash', off: 0, len: LEN })).hash;
      expect(sha256(buf.subarray(CANARY, CANARY + LEN))).toBe(oldHash);
      // The name is removed and loaded again with another key.
      target.invalidateRemoteMD(name);
      target.loadRemoteMD(fresh.getLocalMD());
      // The old key's connection closed: its next write fails, typed — with
      // RemoteDisconnectError if it is under way when the close arrives,
      // NotFoundError once that disconnect dropped the target's metadata there.
      await old.send({ cmd: 'fill', off: 0, len: LEN, seed: 2 });
      const err = await old
        .send({ cmd: 'write', to: target.name, descs: [[0, addr, LEN]] })
        .catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect(String(err)).toMatch(/RemoteDisconnectError|NotFoundError/);
      expect(sha256(buf.subarray(CANARY, CANARY + LEN))).toBe(oldHash);
      // The new key's agent writes.
      const src = fresh.alloc(LEN).buffer;
      fillPattern(src, 3);
      const srcReg = fresh.registerMem(src);
      fresh.loadRemoteMD(md);
      await fresh.write(srcReg.descs, region.descs, target.name, {
        signal: AbortSignal.timeout(30_000),
      });
      expect(sha256(buf.subarray(CANARY, CANARY + LEN))).toBe(sha256(src));
    } finally {
      target.invalidateRemoteMD(name);
      await old.close();
      await fresh.close();
    }
  });

  it('a fake target without the secret and identity key receives no payload', async () => {
    const real = await Agent.create({ name: `real-${process.pid}`, backends: ['TCP'] });
    const initiator = await Agent.create({ name: `init-${process.pid}`, backends: ['TCP'] });
    try {
      const dst = real.registerMem(real.alloc(MiB).buffer);
      const realMd = real.getLocalMD();
      const port = targetInfo(realMd).port;
      initiator.loadRemoteMD(realMd);
      await real.close(); // its port is free: the attacker takes it
      await attacker.send({ cmd: 'fakeTarget', port });
      const src = initiator.registerMem(Buffer.alloc(MiB, 0x5c));
      const err = await initiator
        .write(src.descs, dst.descs, real.name, { notif: 'secret stuff' })
        .catch((e) => e);
      expect(err).toBeInstanceOf(RemoteDisconnectError);
      const report = await attacker.send({ cmd: 'fakeReport' });
      expect(report.hellos).toBeGreaterThan(0);
      expect(report.afterHello).toBe(0);
    } finally {
      await initiator.close();
      await real.close();
    }
  });
});

describe('TCP target under a flood of unauthenticated connections', () => {
  let peer: TcpPeer;
  let initiator: Agent;
  let attacker: Attacker;
  const REGION = 8 * MiB;

  beforeAll(async () => {
    peer = await TcpPeer.start(`flooded-${process.pid}`, REGION, { same_host: 'off' });
    initiator = await Agent.create({
      name: `legit-${process.pid}`,
      backends: [{ type: 'TCP', params: { same_host: 'off' } }],
    });
    initiator.loadRemoteMD(peer.mdBytes);
    attacker = new Attacker();
    await attacker.send({ cmd: 'target', md: peer.md });
  }, 120_000);

  afterAll(async () => {
    await attacker?.close();
    await initiator?.close();
    await peer?.close();
  });

  /** A 1 MiB WRITE then READ back, verified by hash. */
  async function legitTransfer(seed: number): Promise<void> {
    const src = Buffer.alloc(MiB);
    fillPattern(src, seed);
    const reg = initiator.registerMem(src);
    const back = Buffer.alloc(MiB);
    const backReg = initiator.registerMem(back);
    try {
      const remote = [{ addr: peer.addr, len: MiB }];
      await initiator.write(reg.descs, remote, peer.name, { signal: AbortSignal.timeout(30_000) });
      await initiator.read(backReg.descs, remote, peer.name, {
        signal: AbortSignal.timeout(30_000),
      });
      expect(sha256(back)).toBe(sha256(src));
    } finally {
      reg.close();
      backReg.close();
    }
  }

  it('4,000 connections that never authenticate: the target grows by less than 128 MiB and a legitimate peer transfers during the flood', async () => {
    await legitTransfer(1);
    const before = rssMiB(peer.pid);
    const flooding = attacker.send({ cmd: 'flood', count: 4000, parallel: 100 }, 120_000);
    await legitTransfer(2);
    const r = await flooding;
    const peak = rssMiB(peer.pid);
    await legitTransfer(3);
    console.log(
      `flood: ${r.opened} opened, ${r.failed} failed; target RSS ${before.toFixed(1)} -> ${peak.toFixed(1)} MiB`,
    );
    expect(r.opened + r.failed).toBe(4000);
    expect(peak - before).toBeLessThan(128);
    await attacker.send({ cmd: 'floodRelease' });
  }, 180_000);

  it('flooded past its file-descriptor limit, the target stays under 20% of a core and serves again afterwards', async () => {
    await legitTransfer(4);
    // Lower the target's descriptor limit (prlimit from util-linux), then flood past it.
    execFileSync('prlimit', ['--pid', String(peer.pid), '--nofile=256:256']);
    await attacker.send({ cmd: 'flood', count: 600, parallel: 100 }, 120_000);
    const cpu0 = cpuMs(peer.pid);
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, 3_000));
    const share = (cpuMs(peer.pid) - cpu0) / (Date.now() - t0);
    console.log(
      `fd exhaustion: target CPU ${(share * 100).toFixed(1)}% of a core during the flood`,
    );
    expect(share).toBeLessThan(0.2);
    await attacker.send({ cmd: 'floodRelease' });
    // The flood's sockets close; the target's handshake timeout frees the rest.
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await legitTransfer(5);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        initiator.loadRemoteMD(peer.mdBytes);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }, 180_000);
});
