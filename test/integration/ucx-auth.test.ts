/**
 * Who a UCX active message is from (wire version 3, native/ucx/am_auth.h):
 * every notification, revocation and notification ack proves its sender
 * under a session that the sender's HELLO opened with the key its metadata
 * holds. The forgers are UCX agents in other processes (test/integration/
 * tcp-peer.ts): one named like a real agent, one that sends raw active
 * messages. UCX over tcp on lo.
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
// Active message ids (native/ucx/wire.h).
const AM_REVOKE = 0x5231;
const AM_NOTIF_ACK = 0x4131;

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return check();
}

const ucxOf = (a: Agent): UcxBackend => a.backends.find((b) => b.type === 'UCX') as UcxBackend;

/** A version 3 tag with a made-up session and MAC, then the name (wire.h). */
function forgedTag(name: string): Buffer {
  const tag = Buffer.alloc(33);
  tag[0] = 3;
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
      expect(c.noSession).toBeGreaterThanOrEqual(1); // the forged notification
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

      // The real X: its HELLO (with its first message, which is not heard)
      // is refused, the name being bound to the first key, and kept until
      // the target loads X's metadata.
      const real = await start(x);
      await real.send({ cmd: 'load', md });
      await real.send({ cmd: 'genNotif', to: target.name, msg: 'before its metadata' });
      expect(await until(() => ucxOf(target).authCounters().hellosRefused >= 1, 10_000)).toBe(true);
      target.loadRemoteMD(real.mdBytes);
      await first.send({ cmd: 'genNotif', to: target.name, msg: 'after' });
      await real.send({ cmd: 'genNotif', to: target.name, msg: 'real' });
      expect(await until(() => got.length >= 2, 10_000)).toBe(true);
      await until(() => got.length > 2, FORGERY_WAIT_MS);
      expect(got).toEqual([
        [x, 'first use'],
        [x, 'real'],
      ]);
    }, 60_000);

    it('metadata of a peer of wire version 2 is refused with MismatchError', async () => {
      const target = await agent(`ucx-auth-t-${process.pid}`);
      const peer = await start(`ucx-auth-old-${process.pid}`);
      const md = decodeMetadata(peer.mdBytes);
      const conns = md.conns.map((c) => {
        if (c.backend !== 'UCX') return c;
        // Version 3 less its two keys is the layout of version 2 (wire.h).
        const old = Buffer.from(c.connInfo.subarray(0, c.connInfo.length - 64));
        old[4] = 2;
        return { ...c, connInfo: old };
      });
      const err = (() => {
        try {
          target.loadRemoteMD(encodeMetadata({ ...md, conns }));
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(MismatchError);
      expect(String((err as Error).message)).toMatch(/wire version 2.*unauthenticated/);
      // A peer of version 3 next to it still loads.
      target.loadRemoteMD(peer.mdBytes);
    }, 30_000);
  });
}
