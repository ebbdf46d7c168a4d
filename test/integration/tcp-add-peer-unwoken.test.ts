/**
 * Loading a peer's metadata queues its AddPeer for the TCP engine's I/O thread
 * without waking it (native/tcp/posting.cc): the command runs on that thread's
 * next round. What must hold while it waits, with the I/O thread asleep in its
 * idle tick (250 ms) when the metadata is loaded: a HELLO under the peer's
 * name, from another process and with another identity key, is refused, also
 * on a connection that got its challenge before the load and sends a NOTIF
 * right behind the HELLO (the round drains the queue before it reads the
 * HELLO, so the name is bound to the metadata's key first); the peer itself, in
 * another process, transfers into this agent at once; and this agent
 * transfers to it at once (its Connect finds the peer the queued command
 * added). Loopback only.
 */
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import type { Registration } from '../../src/registration.js';
import { JsonLineChild, type JsonLineReply } from '../../testing/json-line-child.js';
import { fillPattern, sha256 } from '../../testing/pattern.js';
import { TcpPeer } from './tcp-peer-process.js';

const ATTACKER = fileURLToPath(new URL('./tcp-attacker.ts', import.meta.url));
const LEN = 64 * 1024;
const params = { same_host: 'off' };
/** Long enough for an idle engine to sleep its long tick (kIdleAfterNs 100 ms, then a tick). */
const IDLE_MS = 400;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Attacker extends JsonLineChild<JsonLineReply & Record<string, any>> {
  constructor() {
    super(ATTACKER, 'attacker');
  }
  override send(c: Record<string, unknown> & { cmd: string }, timeoutMs = 60_000): Promise<any> {
    return super.send(c, timeoutMs);
  }
}

describe('a TCP peer added without waking the engine', () => {
  let target: Agent;
  let buf: Buffer;
  let region: Registration;
  let attacker: Attacker;
  const peers: TcpPeer[] = [];
  let n = 0;

  async function startPeer(): Promise<TcpPeer> {
    const p = await TcpPeer.start(`unwoken-${process.pid}-${n++}`, LEN, params);
    peers.push(p);
    return p;
  }

  beforeAll(async () => {
    target = await Agent.create({
      name: `loader-${process.pid}`,
      backends: [{ type: 'TCP', params }],
    });
    buf = target.alloc(LEN).buffer;
    region = target.registerMem(buf);
    attacker = new Attacker();
    await attacker.send({ cmd: 'target', md: Buffer.from(target.getLocalMD()).toString('base64') });
  }, 60_000);

  afterAll(async () => {
    for (const p of peers) await p.close();
    await attacker?.close();
    await target?.close();
  });

  it('a HELLO under the name of a peer loaded a moment ago is refused; the peer itself then writes in', async () => {
    const victim = await startPeer();
    await victim.send({ cmd: 'load', md: Buffer.from(target.getLocalMD()).toString('base64') });
    await sleep(IDLE_MS);
    target.loadRemoteMD(victim.mdBytes);
    const forged = await attacker.send({ cmd: 'hello', name: victim.name });
    expect(forged.accepted).toBe(false);
    // The real peer gets in, and its notification carries its name.
    const got: string[] = [];
    const listener = (from: string, msg: Uint8Array) => got.push(`${from}:${Buffer.from(msg)}`);
    target.on('notif', listener);
    try {
      await victim.send({ cmd: 'fill', off: 0, len: LEN, seed: 5 });
      await victim.send({
        cmd: 'write',
        to: target.name,
        descs: [[0, region.descs.at(0).addr.toString(), LEN]],
        notif: 'real',
      });
      const deadline = Date.now() + 10_000;
      while (!got.length && Date.now() < deadline) await sleep(20);
      expect(got).toEqual([`${victim.name}:real`]);
      const { hash } = await victim.send({ cmd: 'hash', off: 0, len: LEN });
      expect(sha256(buf)).toBe(hash);
    } finally {
      target.off('notif', listener);
    }
  });

  it('a HELLO under that name on a connection opened before the load, a NOTIF right behind it, is refused: the NOTIF never arrives', async () => {
    const got: string[] = [];
    const listener = (from: string, msg: Uint8Array) => got.push(`${from}:${Buffer.from(msg)}`);
    target.on('notif', listener);
    try {
      // Several names: each try has the HELLO in before the engine's next tick.
      for (let i = 0; i < 5; i++) {
        const victim = await Agent.create({ name: `early-${process.pid}-${i}`, backends: ['TCP'] });
        const md = victim.getLocalMD();
        await victim.close();
        const early = await attacker.send({
          cmd: 'helloLater',
          name: victim.name,
          notif: 'forged',
        });
        expect(early.challenged).toBe(true);
        target.loadRemoteMD(md);
        const forged = await attacker.send({ cmd: 'helloNow' });
        expect(forged.accepted).toBe(false);
      }
      await sleep(300); // a late NOTIF would have arrived by now
      expect(got).toEqual([]);
    } finally {
      target.off('notif', listener);
    }
  });

  it('a WRITE right after the load reaches the peer in another process', async () => {
    const peer = await startPeer();
    const src = target.alloc(LEN).buffer;
    fillPattern(src, 11);
    const srcReg = target.registerMem(src);
    await sleep(IDLE_MS);
    target.loadRemoteMD(peer.mdBytes);
    await target.write(srcReg.descs, [{ addr: peer.addr, len: LEN }], peer.name, {
      signal: AbortSignal.timeout(30_000),
    });
    const { hash } = await peer.send({ cmd: 'hash', off: 0, len: LEN });
    expect(hash).toBe(sha256(src));
  });
});
