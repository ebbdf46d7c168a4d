/**
 * Who a UCX active message is from (wire version 5, native/ucx/am_auth.h):
 * every notification, revocation and notification ack proves its sender
 * under a session that the sender's HELLO opened with the key its metadata
 * holds. The forgers are UCX agents in other processes (test/integration/
 * tcp-peer.ts): one named like a real agent, one that sends raw active
 * messages, one that replays what a sender sent, one that floods HELLOs.
 * UCX over tcp on lo.
 */
import { randomFillSync } from 'node:crypto';

import { afterEach, describe, expect, it } from 'vitest';

import type { UcxBackend } from '../../backends/ucx/ucx-backend.js';
import { MismatchError } from '../../src/errors.js';
import { Agent } from '../../src/agent.js';
import { decodeMetadata, decodeMetadataHeader, encodeMetadata } from '../../src/metadata.js';
import { sha256 } from '../../testing/pattern.js';
import { reportUcxUnavailable, UCX_AVAILABLE } from '../backends/ucx-gate.js';
import { TcpPeer } from './tcp-peer-process.js';

const TCP = { profile: 'tcp', devices: 'lo' };
/** How long a forged message gets to take effect: it takes milliseconds when accepted. */
const FORGERY_WAIT_MS = 2_000;
/** How long a stranger floods the target with HELLOs. */
const FLOOD_MS = 5_000;
/** USER_HZ: the unit of /proc/<pid>/task/<tid>/stat's CPU times on Linux. */
const CLOCK_TICKS = 100;
/** The share of its progress thread a flood may cost the target (measured: see the write-up). */
const CPU_BOUND = 0.4;
// Active message ids (native/ucx/wire.h).
const AM_REVOKE = 0x5231;
const AM_NOTIF_ACK = 0x4131;

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return check();
}

const ucxOf = (a: Agent): UcxBackend => a.backends.find((b) => b.type === 'UCX') as UcxBackend;

/** A version 5 tag with a made-up session and MAC, then the name (wire.h). */
function forgedTag(name: string): Buffer {
  const tag = Buffer.alloc(33);
  tag[0] = 5;
  randomFillSync(tag, 1, 8); // session
  tag.writeBigUInt64LE(1n << 40n, 9); // seq
  randomFillSync(tag, 17, 16); // mac
  return Buffer.concat([tag, Buffer.from(name)]);
}

if (!UCX_AVAILABLE) reportUcxUnavailable('UCX message authentication');
else {
  describe('UCX: who a message is from', () => {
    const peers: TcpPeer[] = [];
    const agents: Agent[] = [];
    afterEach(async () => {
      await Promise.all(peers.splice(0).map((p) => p.close()));
      await Promise.all(agents.splice(0).map((a) => a.close()));
    });
    const start = async (name: string, opts: { listen?: boolean } = {}): Promise<TcpPeer> => {
      const p = await TcpPeer.start(name, 1 << 16, TCP, { backend: 'UCX', ...opts });
      peers.push(p);
      return p;
    };
    const agent = async (name: string): Promise<Agent> => {
      const a = await Agent.create({ name, backends: [{ type: 'UCX', params: TCP }] });
      agents.push(a);
      return a;
    };
    /**
     * A target here, with the notifications it hears, and two processes that
     * loaded its metadata: a sender that speaks wire v5 as `s`
     * (ucx-wire-sender.ts) and returns the bytes it sent, and a replayer.
     */
    const replaySetup = async () => {
      const target = await agent(`ucx-auth-t-${process.pid}`);
      const got: [string, string][] = [];
      target.on('notif', (from, msg) => got.push([from, Buffer.from(msg).toString()]));
      const md = Buffer.from(target.getLocalMD()).toString('base64');
      const sender = await start(`ucx-auth-s-${process.pid}`);
      const replayer = await start(`ucx-auth-r-${process.pid}`);
      await sender.send({ cmd: 'load', md });
      await replayer.send({ cmd: 'load', md });
      return {
        target,
        got,
        md,
        sender,
        replayer,
        s: `ucx-auth-wire-${process.pid}`,
        to: target.name,
      };
    };

    it('a forger under the name of an agent whose metadata the target loaded is not heard; that agent is', async () => {
      const x = `ucx-auth-x-${process.pid}`;
      const target = await agent(`ucx-auth-t-${process.pid}`);
      const got: [string, string][] = [];
      target.on('notif', (from, msg) => got.push([from, Buffer.from(msg).toString()]));
      const buf = target.alloc(1 << 16).buffer;
      const base = target.registerMem(buf).descs.at(0).addr;

      const real = await start(x);
      const forger = await start(x);
      target.loadRemoteMD(real.mdBytes);
      const md = Buffer.from(target.getLocalMD()).toString('base64');
      await real.send({ cmd: 'load', md });
      await forger.send({ cmd: 'load', md });
      // The forger's HELLO, which goes just before its first message, comes
      // with its own key, not the one X's metadata holds.
      await forger.send({ cmd: 'genNotif', to: target.name, msg: 'forged' });
      expect(await until(() => ucxOf(target).authCounters().hellosRefused >= 1, 10_000)).toBe(true);

      await real.send({ cmd: 'genNotif', to: target.name, msg: 'real' });
      await real.send({ cmd: 'fill', off: 0, len: 4096, seed: 7 });
      const { hash } = await real.send({ cmd: 'hash', off: 0, len: 4096 });
      await real.send({
        cmd: 'write',
        to: target.name,
        descs: [[0, (base + 4096n).toString(), 4096]],
        notif: 'written',
      });
      expect(await until(() => got.length >= 2, 10_000)).toBe(true);
      await until(() => got.length > 2, FORGERY_WAIT_MS);
      expect(got).toEqual([
        [x, 'real'],
        [x, 'written'],
      ]);
      expect(sha256(buf.subarray(4096, 8192))).toBe(hash);
      const c = ucxOf(target).authCounters();
      // The forger's HELLO was refused, and so answered: its notification
      // waits for a session it never gets, and never goes on the wire.
      expect(c.hellosAnswered).toBeGreaterThanOrEqual(1);
      expect(c.badMac + c.replayed).toBe(0);
    }, 60_000);

    it('forged revocations and notification acks under the target’s name toward an initiator do nothing', async () => {
      const initiator = await agent(`ucx-auth-i-${process.pid}`);
      const target = await start(`ucx-auth-t-${process.pid}`, { listen: false });
      const forger = await start(`ucx-auth-f-${process.pid}`);
      const imd = Buffer.from(initiator.getLocalMD()).toString('base64');
      initiator.loadRemoteMD(target.mdBytes);
      await target.send({ cmd: 'load', md: imd });
      await forger.send({ cmd: 'load', md: imd });

      // The target's region id, from its region's public data (wire.h: "NXUR" | ... | u64 id).
      const section = decodeMetadataHeader(target.mdBytes).sections.find(
        (s) => s.backend === 'UCX',
      )!;
      const regionId = Buffer.from(section.publicData.subarray(8, 16));
      const name = target.name;
      const plain = Buffer.from(name); // a header of wire version 2
      const ams: [number, string, string][] = [
        [AM_REVOKE, plain.toString('hex'), regionId.toString('hex')],
        [AM_REVOKE, forgedTag(name).toString('hex'), regionId.toString('hex')],
      ];
      // Acknowledgements for every token the initiator's first transfers can have
      // (transfer id << 32 | post generation).
      for (let id = 1n; id <= 16n; id++) {
        for (let gen = 0n; gen <= 4n; gen++) {
          const token = Buffer.alloc(8);
          token.writeBigUInt64LE((id << 32n) | gen);
          ams.push([AM_NOTIF_ACK, plain.toString('hex'), token.toString('hex')]);
          ams.push([AM_NOTIF_ACK, forgedTag(name).toString('hex'), token.toString('hex')]);
        }
      }
      await forger.send({ cmd: 'forgeAm', to: initiator.name, ams, rounds: 1 });
      await new Promise((r) => setTimeout(r, FORGERY_WAIT_MS));

      const src = initiator.alloc(1 << 16).buffer;
      const base = initiator.registerMem(src).descs.at(0).addr;
      for (let round = 0; round < 5; round++) {
        randomFillSync(src, 0, 4096);
        const want = sha256(src.subarray(0, 4096));
        // Forged acknowledgements keep coming while the transfer waits for the real one.
        const burst = forger.send({ cmd: 'forgeAm', to: initiator.name, ams, rounds: 20 });
        await initiator.write(
          [{ addr: base, len: 4096 }],
          [{ addr: target.addr, len: 4096 }],
          name,
          {
            notif: `round ${round}`,
            signal: AbortSignal.timeout(20_000),
          },
        );
        // DONE means the target holds the notification (notif_ack), not that a forger said so.
        const taken = await target.send({ cmd: 'takeNotifs', off: 0, len: 4096 });
        expect(taken.list).toEqual([[initiator.name, `round ${round}`]]);
        expect(taken.hash).toBe(want);
        await burst;
      }
      const c = ucxOf(initiator).authCounters();
      expect(c.noSession).toBeGreaterThanOrEqual(2); // the revocations
    }, 60_000);

    it('a name bound on first use is dropped when metadata with another key is loaded', async () => {
      const x = `ucx-auth-x-${process.pid}`;
      const target = await agent(`ucx-auth-t-${process.pid}`);
      const got: [string, string][] = [];
      target.on('notif', (from, msg) => got.push([from, Buffer.from(msg).toString()]));
      const md = Buffer.from(target.getLocalMD()).toString('base64');

      const first = await start(x);
      await first.send({ cmd: 'load', md });
      await first.send({ cmd: 'genNotif', to: target.name, msg: 'first use' });
      expect(await until(() => got.length >= 1, 10_000)).toBe(true);

      // The real X: its HELLO (with its first message, which waits) is
      // refused, the name being bound to the first key, and answered so;
      // X retries, and is accepted once the target loaded X's metadata.
      const real = await start(x);
      await real.send({ cmd: 'load', md });
      await real.send({ cmd: 'genNotif', to: target.name, msg: 'before its metadata' });
      expect(await until(() => ucxOf(target).authCounters().hellosRefused >= 1, 10_000)).toBe(true);
      target.loadRemoteMD(real.mdBytes);
      await first.send({ cmd: 'genNotif', to: target.name, msg: 'after' });
      await real.send({ cmd: 'genNotif', to: target.name, msg: 'real' });
      expect(await until(() => got.length >= 3, 10_000)).toBe(true);
      await until(() => got.length > 3, FORGERY_WAIT_MS);
      expect(got).toEqual([
        [x, 'first use'],
        [x, 'before its metadata'],
        [x, 'real'],
      ]);
    }, 60_000);

    it('metadata of a peer of wire version 2, 3 or 4 is refused with MismatchError', async () => {
      const target = await agent(`ucx-auth-t-${process.pid}`);
      const peer = await start(`ucx-auth-old-${process.pid}`);
      const md = decodeMetadata(peer.mdBytes);
      const asVersion = (version: number): Uint8Array => {
        const conns = md.conns.map((c) => {
          if (c.backend !== 'UCX') return c;
          // Versions 4 and 5 have version 3's layout; less its two keys, version 2's (wire.h).
          const keep = version === 2 ? c.connInfo.length - 64 : c.connInfo.length;
          const old = Buffer.from(c.connInfo.subarray(0, keep));
          old[4] = version;
          return { ...c, connInfo: old };
        });
        return encodeMetadata({ ...md, conns });
      };
      const refusal = (bytes: Uint8Array): unknown => {
        try {
          target.loadRemoteMD(bytes);
        } catch (e) {
          return e;
        }
      };
      const v2 = refusal(asVersion(2));
      expect(v2).toBeInstanceOf(MismatchError);
      expect(String((v2 as Error).message)).toMatch(/wire version 2.*unauthenticated/);
      const v3 = refusal(asVersion(3));
      expect(v3).toBeInstanceOf(MismatchError);
      expect(String((v3 as Error).message)).toMatch(/wire version 3.*HELLOs can be replayed/);
      const v4 = refusal(asVersion(4));
      expect(v4).toBeInstanceOf(MismatchError);
      expect(String((v4 as Error).message)).toMatch(
        /wire version 4.*refused session HELLOs get no answer/,
      );
      // A peer of version 5 next to them still loads.
      target.loadRemoteMD(peer.mdBytes);
    }, 30_000);

    it('a captured HELLO and notification, replayed once their session was pushed out, are refused; the sender is still heard', async () => {
      const { target, got, md, sender, replayer, s, to } = await replaySetup();
      const hello = async () => (await sender.send({ cmd: 'wireHello', name: s, to, md })).ams;
      const notif = async (msg: string) => (await sender.send({ cmd: 'wireNotif', to, msg })).ams;
      const replay = (ams: unknown) => replayer.send({ cmd: 'forgeAm', to, ams, rounds: 1 });
      const counters = () => ucxOf(target).authCounters();

      const captured = [...(await hello()), ...(await notif('first'))];
      expect(await until(() => got.length >= 1, 10_000)).toBe(true);
      // While its session is held: the HELLO opens nothing, the notification's number is old.
      await replay(captured);
      expect(await until(() => counters().replayed >= 1, 10_000)).toBe(true);
      // 16 newer sessions under the name push it out.
      for (let i = 0; i < 16; i++) await hello();
      await notif('pushed out');
      expect(await until(() => got.length >= 2, 10_000)).toBe(true);
      await replay(captured);
      // Accepted, the replayed notification would arrive within milliseconds.
      await until(() => got.length > 2, FORGERY_WAIT_MS);
      expect(got).toEqual([
        [s, 'first'],
        [s, 'pushed out'],
      ]);
      expect(counters().hellosStale).toBe(2);
      await notif('later');
      expect(await until(() => got.length >= 3, 10_000)).toBe(true);
      await until(() => got.length > 3, FORGERY_WAIT_MS);
      expect(got).toEqual([
        [s, 'first'],
        [s, 'pushed out'],
        [s, 'later'],
      ]);
      const c = counters();
      expect(c.hellos).toBe(17);
      expect(c.hellosStale).toBe(2); // the captured HELLO, both times
      expect(c.noSession).toBeGreaterThanOrEqual(1); // its notification, the second time
      expect(c.badMac).toBe(0);
    }, 60_000);

    it('a name’s earlier key keeps its stamps: back under that key, a HELLO it had is refused', async () => {
      const { target, got, md, sender, replayer, s, to } = await replaySetup();
      const other = await start(`ucx-auth-o-${process.pid}`);
      const first = await sender.send({ cmd: 'wireHello', name: s, to, md });
      const captured = [
        ...first.ams,
        ...(await sender.send({ cmd: 'wireNotif', to, msg: 'first' })).ams,
      ];
      expect(await until(() => got.length >= 1, 10_000)).toBe(true);
      // Metadata with another key takes the name (its first-use key's sessions go)...
      const asName = (peer: TcpPeer, identity?: string): Uint8Array => {
        const m = decodeMetadata(peer.mdBytes);
        const conns = m.conns.map((c) => {
          if (c.backend !== 'UCX' || identity === undefined) return c;
          const info = Buffer.from(c.connInfo);
          Buffer.from(identity, 'hex').copy(info, info.length - 64); // identityKey (wire.h)
          return { ...c, connInfo: info };
        });
        return encodeMetadata({ ...m, name: s, conns });
      };
      target.loadRemoteMD(asName(other));
      // ...and metadata with the sender's key gives it back.
      target.invalidateRemoteMD(s);
      target.loadRemoteMD(asName(other, first.identity));
      await replayer.send({ cmd: 'forgeAm', to, ams: captured, rounds: 1 });
      await until(() => got.length > 1, FORGERY_WAIT_MS);
      expect(got).toEqual([[s, 'first']]);
      expect(ucxOf(target).authCounters().hellosStale).toBe(1);
      // A new HELLO of the sender's is heard.
      await sender.send({ cmd: 'wireHello', name: s, to, md });
      await sender.send({ cmd: 'wireNotif', to, msg: 'new session' });
      expect(await until(() => got.length >= 2, 10_000)).toBe(true);
      expect(got).toEqual([
        [s, 'first'],
        [s, 'new session'],
      ]);
    }, 60_000);

    it('a flood of strangers’ HELLOs costs the target a bounded share of its progress thread; a loaded agent is served', async () => {
      // The target in its own process, so that its progress thread's CPU time is its own.
      const target = await start(`ucx-auth-t-${process.pid}`);
      const x = await agent(`ucx-auth-x-${process.pid}`);
      const flooder = await start(`ucx-auth-f-${process.pid}`);
      x.loadRemoteMD(target.mdBytes);
      await target.send({ cmd: 'load', md: Buffer.from(x.getLocalMD()).toString('base64') });
      await flooder.send({ cmd: 'load', md: target.md });
      const progress = async (): Promise<{ cpuTicks: number }> => {
        const { list } = await target.send({ cmd: 'threads' });
        return list.find((t: { comm: string }) => t.comm === 'nixl-ucx-prog');
      };

      const src = x.alloc(1 << 16).buffer;
      const base = x.registerMem(src).descs.at(0).addr;
      const before = await progress();
      const t0 = Date.now();
      const flood = flooder.send(
        { cmd: 'floodHellos', to: target.name, md: target.md, ms: FLOOD_MS, valid: 8 },
        60_000,
      );
      // The loaded agent X keeps writing (with a notification) and notifying,
      // and remakes its endpoints (a new HELLO each time) every other round.
      const want: string[] = [];
      let rounds = 0;
      for (; rounds < 400 && Date.now() - t0 < FLOOD_MS; rounds++) {
        if (rounds % 2 === 1) {
          x.invalidateRemoteMD(target.name);
          x.loadRemoteMD(target.mdBytes);
        }
        const off = (rounds % 16) * 4096;
        randomFillSync(src, off, 4096);
        await x.write(
          [{ addr: base + BigInt(off), len: 4096 }],
          [{ addr: target.addr + BigInt(off), len: 4096 }],
          target.name,
          { notif: `w${rounds}`, signal: AbortSignal.timeout(20_000) },
        );
        // DONE: the target holds the notification and the data (notif_ack).
        const { hash } = await target.send({ cmd: 'hash', off, len: 4096 });
        expect(hash).toBe(sha256(src.subarray(off, off + 4096)));
        x.genNotif(target.name, `g${rounds}`);
        want.push(`w${rounds}`, `g${rounds}`);
      }
      const { sent } = await flood;
      const after = await progress();
      const seconds = (Date.now() - t0) / 1000;
      const c = (await target.send({ cmd: 'authCounters' })).counters;
      const cpu = (after.cpuTicks - before.cpuTicks) / CLOCK_TICKS;
      console.log(
        `flood: ${sent} HELLOs in ${seconds.toFixed(1)} s, X ${rounds} rounds;` +
          ` target progress thread ${cpu.toFixed(2)} s CPU; counters ${JSON.stringify(c)}`,
      );
      expect(rounds).toBeGreaterThanOrEqual(10);
      expect(sent).toBeGreaterThan(2_000);
      // Every notification of X arrived (the last genNotif may still be on its way).
      const heard: string[] = [];
      for (let i = 0; i < 50 && heard.length < want.length; i++) {
        const { list } = await target.send({ cmd: 'notifs' });
        heard.push(...list.filter((n: string[]) => n[0] === x.name).map((n: string[]) => n[1]));
        if (heard.length < want.length) await new Promise((r) => setTimeout(r, 100));
      }
      expect(heard.sort()).toEqual(want.sort());
      expect(c.hellosThrottled).toBeGreaterThan(0);
      // The crypto of at most 256 + 128 per second first-use HELLOs (0.2 ms
      // each), X's own HELLOs and traffic, and receiving the flood: well under
      // half of the thread, where without the bound it takes what it can get.
      expect(cpu).toBeLessThan(CPU_BOUND * seconds);
    }, 90_000);
  });
}
