/**
 * A sender whose HELLO the target refused (native/ucx/am_auth.h): the
 * target answers it (refused, retry after), and the sender keeps its tagged
 * messages until a HELLO of its is accepted, retrying with backoff. So a
 * first-use agent whose HELLOs a flood refused is heard once the flood ends,
 * in order and exactly once; one that is never accepted gets a typed error
 * after timeout_ms. Target, senders and flooder are each their own process
 * (test/integration/tcp-peer.ts); UCX over tcp on lo.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { reportUcxUnavailable, UCX_AVAILABLE } from '../backends/ucx-gate.js';
import { TcpPeer } from './tcp-peer-process.js';
import { identityKeyOf } from './ucx-wire-sender.js';

const TCP = { profile: 'tcp', devices: 'lo' };
/** How long the flooder sends HELLOs. */
const FLOOD_MS = 4_000;
/** After the flood, how long the held messages get to arrive (the sender's backoff is at most 2 s). */
const AFTER_FLOOD_MS = 20_000;
const CLOCK_TICKS = 100; // USER_HZ, the unit of /proc/<pid>/task/<tid>/stat

async function until(check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!(await check()) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return check();
}

type Outcome = { ok: boolean; error?: string; ms: number };
/** A command's outcome and how long it took, whether it succeeded or failed. */
async function timed(p: Promise<unknown>): Promise<Outcome> {
  const t0 = Date.now();
  return p.then(
    () => ({ ok: true, ms: Date.now() - t0 }),
    (e: unknown) => ({ ok: false, error: String(e).split('\n')[0], ms: Date.now() - t0 }),
  );
}

if (!UCX_AVAILABLE) reportUcxUnavailable('UCX HELLO retry');
else {
  describe('UCX: a refused HELLO is answered and retried', () => {
    const peers: TcpPeer[] = [];
    afterEach(async () => {
      await Promise.all(peers.splice(0).map((p) => p.close()));
    });
    const start = async (name: string, params: Record<string, string> = {}): Promise<TcpPeer> => {
      const p = await TcpPeer.start(name, 1 << 16, { ...TCP, ...params }, { backend: 'UCX' });
      peers.push(p);
      return p;
    };
    const counters = async (p: TcpPeer) => (await p.send({ cmd: 'authCounters' })).counters;
    /** The notifications the target heard so far, by sender. */
    const heard = new Map<string, string[]>();
    const collect = async (target: TcpPeer): Promise<void> => {
      for (const [from, msg] of (await target.send({ cmd: 'notifs' })).list) {
        heard.set(from, [...(heard.get(from) ?? []), msg]);
      }
    };
    /** A 4 KiB WRITE with a notification from `s` into the target's region at `off`. */
    const write = async (s: TcpPeer, target: TcpPeer, off: number, notif: string, seed: number) => {
      await s.send({ cmd: 'fill', off, len: 4096, seed });
      const { hash } = await s.send({ cmd: 'hash', off, len: 4096 });
      const done = timed(
        s.send({
          cmd: 'write',
          to: target.name,
          descs: [[off, (target.addr + BigInt(off)).toString(), 4096]],
          notif,
        }),
      );
      return { hash, done };
    };

    /**
     * Another key binds `name` at the target on first use (its 'first use'
     * notification is heard), so a later agent of that name is refused for good.
     */
    const bindNameElsewhere = async (target: TcpPeer, name: string): Promise<void> => {
      const first = await start(name);
      await first.send({ cmd: 'load', md: target.md });
      await first.send({ cmd: 'genNotif', to: target.name, msg: 'first use' });
      expect(
        await until(async () => {
          await collect(target);
          return (heard.get(name)?.length ?? 0) >= 1;
        }, 10_000),
      ).toBe(true);
    };

    it('a first-use agent whose HELLOs a flood refused is heard after the flood: in order, once each, data intact', async () => {
      heard.clear();
      const target = await start(`ucx-retry-t-${process.pid}`);
      const flooder = await start(`ucx-retry-f-${process.pid}`);
      // Two first-use agents (the target never loads their metadata), with and
      // without notif_ack; the second progresses on its event loop (its
      // retries run on a libuv timer, the first's on its progress thread).
      const acked = await start(`ucx-retry-a-${process.pid}`);
      const plain = await start(`ucx-retry-p-${process.pid}`, {
        notif_ack: 'off',
        progress: 'event',
      });
      for (const p of [flooder, acked, plain]) await p.send({ cmd: 'load', md: target.md });

      // Junk HELLOs under fresh names: each takes a token of the first-use bucket.
      const flood = flooder.send(
        { cmd: 'floodHellos', to: target.name, md: target.md, ms: FLOOD_MS, valid: 0 },
        60_000,
      );
      expect(await until(async () => (await counters(target)).hellosThrottled > 0, 10_000)).toBe(
        true,
      );
      const t0 = Date.now();
      const want = new Map<string, string[]>();
      const writes: { s: TcpPeer; off: number; hash: string; done: Promise<Outcome> }[] = [];
      for (const [i, s] of [acked, plain].entries()) {
        const msgs = [1, 2, 3, 4, 5].map((n) => `${s === acked ? 'a' : 'p'}${n}`);
        for (const m of msgs) await s.send({ cmd: 'genNotif', to: target.name, msg: m });
        const off = i * 4096;
        const { hash, done } = await write(s, target, off, `${msgs[0]}-write`, 11 + i);
        writes.push({ s, off, hash, done });
        want.set(s.name, [...msgs, `${msgs[0]}-write`]);
      }
      const { sent } = await flood;
      const floodEnd = Date.now();
      const outcomes = await Promise.all(writes.map((w) => w.done));
      await until(async () => {
        await collect(target);
        return [...want].every(([name, w]) => (heard.get(name)?.length ?? 0) >= w.length);
      }, AFTER_FLOOD_MS);
      // Late duplicates would come within milliseconds.
      await new Promise((r) => setTimeout(r, 500));
      await collect(target);
      const c = await counters(target);
      const retried = [
        (await counters(acked)).hellosRetried,
        (await counters(plain)).hellosRetried,
      ];
      console.log(
        `flood: ${sent} HELLOs for ${floodEnd - t0} ms after the senders began; writes ` +
          `${JSON.stringify(outcomes)}; heard ${JSON.stringify([...heard])}; sender HELLO ` +
          `retries ${JSON.stringify(retried)}; target counters ${JSON.stringify(c)}`,
      );
      expect(sent).toBeGreaterThan(2_000);
      for (const [name, w] of want) expect(heard.get(name)).toEqual(w);
      for (const [i, o] of outcomes.entries()) {
        expect(o.ok, o.error).toBe(true);
        const { hash } = await target.send({ cmd: 'hash', off: writes[i]!.off, len: 4096 });
        expect(hash).toBe(writes[i]!.hash);
      }
      // Whether a sender's first HELLO was refused depends on the scheduler:
      // one that arrives in a gap of the flood (the flooder descheduled on
      // these shared cores) finds a token, so the retries are logged, not
      // asserted; the never-accepted case below and ucx-auth.test.ts (a
      // real agent refused before the target loads its metadata, heard
      // after) refuse deterministically.
      expect(c.hellosThrottled).toBeGreaterThan(0);
    }, 90_000);

    it('junk HELLOs under a loaded name with its key are rate-limited; that agent is heard after them', async () => {
      heard.clear();
      const target = await start(`ucx-retry-t-${process.pid}`);
      const flooder = await start(`ucx-retry-f-${process.pid}`);
      const x = await start(`ucx-retry-x-${process.pid}`);
      await target.send({ cmd: 'load', md: x.md });
      await flooder.send({ cmd: 'load', md: target.md });
      const progress = async (): Promise<number> => {
        const { list } = await target.send({ cmd: 'threads' });
        return list.find((t: { comm: string }) => t.comm === 'nixl-ucx-prog').cpuTicks;
      };
      const before = await progress();
      const t0 = Date.now();
      const flood = flooder.send(
        {
          cmd: 'floodHellos',
          to: target.name,
          md: target.md,
          ms: FLOOD_MS,
          valid: 0,
          as: x.name,
          identity: identityKeyOf(x.mdBytes).toString('hex'),
        },
        60_000,
      );
      await until(async () => (await counters(target)).hellosRefused > 1_000, 10_000);
      // X's first endpoint to the target opens during the flood.
      await x.send({ cmd: 'load', md: target.md });
      const msgs = ['x1', 'x2', 'x3'];
      for (const m of msgs) await x.send({ cmd: 'genNotif', to: target.name, msg: m });
      const { hash, done } = await write(x, target, 0, 'x-write', 21);
      const { sent } = await flood;
      const seconds = (Date.now() - t0) / 1000;
      const cpu = ((await progress()) - before) / CLOCK_TICKS;
      const c = await counters(target);
      const outcome = await done;
      await until(async () => {
        await collect(target);
        return (heard.get(x.name)?.length ?? 0) >= 4;
      }, AFTER_FLOOD_MS);
      await new Promise((r) => setTimeout(r, 500));
      await collect(target);
      console.log(
        `junk under a loaded key: ${sent} HELLOs in ${seconds.toFixed(1)} s; target progress ` +
          `thread ${cpu.toFixed(2)} s CPU; write ${JSON.stringify(outcome)}; heard ` +
          `${JSON.stringify([...heard])}; counters ${JSON.stringify(c)}`,
      );
      expect(sent).toBeGreaterThan(2_000);
      expect(heard.get(x.name)).toEqual([...msgs, 'x-write']);
      expect(outcome.ok, outcome.error).toBe(true);
      expect((await target.send({ cmd: 'hash', off: 0, len: 4096 })).hash).toBe(hash);
      expect(c.hellosThrottled).toBeGreaterThan(0);
      // The crypto the target spent on HELLOs under X's name: at most the
      // name's burst and rate (64, 64/s) plus X's own few.
      expect(c.hellosChecked).toBeLessThan(64 + 64 * (seconds + 1) + 16);
    }, 90_000);

    it('a target that reloaded the sender’s metadata still answers its HELLO (on its own endpoint): the sender is heard', async () => {
      heard.clear();
      const target = await start(`ucx-retry-t-${process.pid}`);
      const s = await start(`ucx-retry-s-${process.pid}`, { notif_ack: 'off' });
      await target.send({ cmd: 'load', md: s.md });
      await s.send({ cmd: 'load', md: target.md });
      // The sender's endpoint is wired; the target remakes its own endpoints to
      // the sender. A message of the sender's that asked UCX for a reply
      // endpoint would now be dropped by UCX unseen (see wire.h).
      await target.send({ cmd: 'load', md: s.md });
      const msgs = ['r1', 'r2', 'r3'];
      for (const m of msgs) await s.send({ cmd: 'genNotif', to: target.name, msg: m });
      const { hash, done } = await write(s, target, 0, 'r-write', 41);
      const outcome = await done;
      await until(async () => {
        await collect(target);
        return (heard.get(s.name)?.length ?? 0) >= 4;
      }, 10_000);
      await new Promise((r) => setTimeout(r, 300));
      await collect(target);
      expect(outcome.ok, outcome.error).toBe(true);
      expect(heard.get(s.name)).toEqual([...msgs, 'r-write']);
      expect((await target.send({ cmd: 'hash', off: 0, len: 4096 })).hash).toBe(hash);
    }, 60_000);

    it.each([
      { first: 'loaded before the session', loadFirst: true },
      { first: 'loaded only after the first WRITE', loadFirst: false },
    ])(
      'notified WRITEs (notif_ack on) to a target that reloads the sender’s metadata between them ($first): each DONE, heard once, data intact',
      async ({ loadFirst }) => {
        heard.clear();
        const target = await start(`ucx-retry-t-${process.pid}`);
        const s = await start(`ucx-retry-s-${process.pid}`);
        // loadFirst: the session opens with the target holding endpoints to the
        // sender (acks on them); else the target loads it only after the first
        // WRITE (acks on UCX reply endpoints, which its reloads leave alone).
        if (loadFirst) await target.send({ cmd: 'load', md: s.md });
        await s.send({ cmd: 'load', md: target.md });
        const outcomes: Outcome[] = [];
        const hashes: string[] = [];
        for (let i = 0; i < 3; i++) {
          // From the second WRITE on, the target has remade its endpoints to the
          // sender since the sender's were wired: an acknowledgement asked for
          // on a UCX reply endpoint would be dropped with its notification.
          if (i > 0) await target.send({ cmd: 'load', md: s.md });
          const { hash, done } = await write(s, target, i * 4096, `acked-${i}`, 51 + i);
          outcomes.push(await done);
          hashes.push(hash);
        }
        await until(async () => {
          await collect(target);
          return (heard.get(s.name)?.length ?? 0) >= 3;
        }, 10_000);
        await new Promise((r) => setTimeout(r, 300));
        await collect(target);
        console.log(`acked after reload: ${JSON.stringify(outcomes)}`);
        for (const o of outcomes) {
          expect(o.ok, o.error).toBe(true);
          // Within the transfer timeout (10 s), which is what the lost ack ran into.
          expect(o.ms).toBeLessThan(8_000);
        }
        expect(heard.get(s.name)).toEqual(['acked-0', 'acked-1', 'acked-2']);
        for (let i = 0; i < 3; i++) {
          expect((await target.send({ cmd: 'hash', off: i * 4096, len: 4096 })).hash).toBe(
            hashes[i],
          );
        }
      },
      60_000,
    );

    it.each([
      { what: 'messages', count: 1100, size: 0, fit: 1024 },
      { what: 'bytes', count: 70, size: 1 << 20, fit: 64 },
    ])(
      'timeout_ms 0, never accepted: an endpoint holds at most 1024 messages / 64 MiB ($what); past that genNotif and a notified WRITE fail with NotAllowedError, sending nothing',
      async ({ count, size, fit }) => {
        heard.clear();
        const target = await start(`ucx-retry-t-${process.pid}`);
        const name = `ucx-retry-x-${process.pid}`;
        await bindNameElsewhere(target, name);
        const x = await start(name, { timeout_ms: '0' });
        await x.send({ cmd: 'load', md: target.md });
        const r = await x.send({ cmd: 'genNotifs', to: target.name, prefix: 'held', count, size });
        const before = (await target.send({ cmd: 'hash', off: 0, len: 4096 })).hash;
        const { done } = await write(x, target, 0, 'past the cap', 61);
        const outcome = await done;
        await new Promise((res) => setTimeout(res, 500));
        await collect(target);
        console.log(
          `held cap (${size} B each): ${JSON.stringify(r)}; write ${JSON.stringify(outcome)}`,
        );
        expect(r.sent).toBe(fit);
        expect(r.refused).toMatch(/NotAllowedError.*has not accepted this agent's session yet/);
        expect(outcome.ok).toBe(false);
        expect(outcome.error).toMatch(/NotAllowedError.*has not accepted/);
        expect(outcome.ms).toBeLessThan(5_000);
        // Refused before anything went: the target's bytes are untouched.
        expect((await target.send({ cmd: 'hash', off: 0, len: 4096 })).hash).toBe(before);
        expect(heard.get(name)).toEqual(['first use']);
      },
      60_000,
    );

    it.each(['thread', 'event'])(
      'progress %s: a sender never accepted gets RemoteDisconnectError after timeout_ms; nothing of it is heard',
      async (progress) => {
        heard.clear();
        const target = await start(`ucx-retry-t-${process.pid}`);
        const name = `ucx-retry-x-${process.pid}`;
        await bindNameElsewhere(target, name);
        const x = await start(name, { timeout_ms: '2000', progress });
        await x.send({ cmd: 'load', md: target.md });
        await x.send({ cmd: 'genNotif', to: target.name, msg: 'refused' });
        const { done } = await write(x, target, 0, 'refused write', 31);
        const outcome = await done;
        // Once failed, the agent dropped the target: a later genNotif is refused at once.
        const later = await timed(x.send({ cmd: 'genNotif', to: target.name, msg: 'later' }));
        await new Promise((r) => setTimeout(r, 500));
        await collect(target);
        const retried = (await counters(x)).hellosRetried;
        console.log(
          `never accepted: write ${JSON.stringify(outcome)}; later genNotif ${JSON.stringify(later)};` +
            ` retries ${retried}; heard ${JSON.stringify([...heard])}`,
        );
        expect(outcome.ok).toBe(false);
        expect(outcome.error).toMatch(/RemoteDisconnectError/);
        expect(outcome.ms).toBeLessThan(15_000);
        expect(later.ok).toBe(false);
        expect(heard.get(name)).toEqual(['first use']);
        expect(retried).toBeGreaterThan(0);
      },
      60_000,
    );
  });
}
