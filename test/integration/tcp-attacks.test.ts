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
    target.registerMem(buf.subarray(CANARY, CANARY + LEN));
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
