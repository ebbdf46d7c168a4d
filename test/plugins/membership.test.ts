/**
 * The mesh membership (plugins/gossip/membership.ts) over the simulation's
 * network (virtual time, no sockets): the same code the gossip discovery
 * runs over libp2p. Signatures are real Ed25519 here where they matter.
 */
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { SIM_SIGNER, SimNetwork } from '../../bench/discovery/sim/network.js';
import {
  type MeshClock,
  type MeshMessage,
  type MembershipOptions,
  Membership,
  payloadDigest,
  signingBytes,
  signingBytesOf,
} from '../../plugins/gossip/membership.js';

const OPTS = {
  degree: 4,
  maxLinks: 8,
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  suspicionMs: 5000,
  antiEntropyMs: 2000,
  batchMs: 0,
  minLinkAgeMs: 2000,
};
const id = (i: number) => `m${i}`;
const DIRECTORY_HEAP = fileURLToPath(new URL('./directory-heap-process.ts', import.meta.url));

/** A live record of member `id` at `version` (the simulation's signer accepts any signature). */
const liveRecord = (memberId: string, version: number) => ({
  id: memberId,
  version,
  left: false,
  payload: new Uint8Array([5]),
  sig: new Uint8Array(64),
});

/**
 * A member `id` on the simulation's clock (no network behind it) whose sends
 * are recorded in `sent`; the simulation's signer accepts any signature.
 */
function recordingMember(id: string, opts: Partial<MembershipOptions> = OPTS) {
  const net = new SimNetwork(10, OPTS);
  const sent: { to: string; msg: MeshMessage }[] = [];
  const m = new Membership(
    id,
    new Uint8Array(1),
    { send: (to, msg) => sent.push({ to, msg }), connect() {}, disconnect() {} },
    SIM_SIGNER,
    net.clock,
    {},
    opts,
  );
  return { net, m, sent };
}

/** `m` learns members 'a' and 'x' from 'a' and holds a link to each. */
function knowAandX(m: Membership) {
  m.receive('a', {
    kind: 'gossip',
    records: [liveRecord('a', 1), liveRecord('x', 1)],
    deaths: [],
    suspects: [],
  });
  m.linkUp('a', false);
  m.linkUp('x', false);
}

function cluster(n: number, opts = {}) {
  const net = new SimNetwork(10, { ...OPTS, ...opts });
  const ms = Array.from({ length: n }, (_, i) => net.add(id(i), new Uint8Array(100)));
  for (const m of ms) m.start();
  for (let i = 1; i < n; i++) {
    ms[i]!.linkUp(id(0));
    ms[0]!.linkUp(id(i));
  }
  return { net, ms };
}

/**
 * A started member, 'prober', linked to one other member, 'peer', that it
 * learnt of by gossip; nothing the prober sends is answered (its pings are
 * never acked), so what it concludes about 'peer' depends only on `clock` and
 * on what the test has 'peer' send it.
 */
function proberOfSilentPeer(clock: MeshClock): Membership {
  const prober = new Membership(
    'prober',
    new Uint8Array(1),
    { send() {}, connect() {}, disconnect() {} },
    { sign: () => new Uint8Array(64), verify: () => true },
    clock,
    {},
    OPTS,
  );
  prober.receive('peer', {
    kind: 'gossip',
    records: [
      { id: 'peer', version: 1, left: false, payload: new Uint8Array(1), sig: new Uint8Array(64) },
    ],
    deaths: [],
    suspects: [],
  });
  prober.linkUp('peer', false);
  prober.start();
  return prober;
}

/** The ids of the records `m` sends `link` in answer to its pull of `ids`. */
function recordsSentOnPull(m: Membership, link: string, ids: string[]): string[] {
  const out: string[] = [];
  const transport = (m as any).transport as { send: (to: string, msg: MeshMessage) => void };
  const send = transport.send;
  transport.send = (to, msg) => {
    if (to === link && msg.kind === 'gossip') out.push(...msg.records.map((r) => r.id));
  };
  try {
    m.receive(link, { kind: 'pull', ids });
  } finally {
    transport.send = send;
  }
  return out;
}

describe('mesh membership', () => {
  it('200 members joining through one seed all know each other, then keep at most maxLinks links', () => {
    const { net, ms } = cluster(200);
    net.clock.run(60_000, () => ms.every((m) => m.liveCount() === 199));
    expect(ms.every((m) => m.liveCount() === 199)).toBe(true);
    net.clock.run(net.clock.now() + 10_000);
    for (const m of ms) {
      expect(m.linkIds().length).toBeLessThanOrEqual(8);
      expect(m.linkIds().length).toBeGreaterThanOrEqual(1);
    }
    // Every directory is the same: the anti-entropy summaries agree.
    const d = ms[0]!.digest();
    expect(ms.every((m) => m.digest().count === d.count)).toBe(true);
  });

  it('a new version replaces the old everywhere; duplicates and stale versions are dropped', () => {
    const { net, ms } = cluster(30);
    net.clock.run(30_000, () => ms.every((m) => m.liveCount() === 29));
    const old = ms[5]!.record;
    ms[5]!.update(new Uint8Array([1, 2, 3]));
    net.clock.run(net.clock.now() + 2000);
    for (const [i, m] of ms.entries())
      if (i !== 5) expect(m.recordOf(id(5))!.version).toBe(old.version + 1);
    const before = ms[0]!.counters.stale;
    ms[0]!.receive(id(1), { kind: 'gossip', records: [old], deaths: [], suspects: [] });
    expect(ms[0]!.counters.stale).toBe(before + 1);
    expect(ms[0]!.recordOf(id(5))!.payload).toEqual(new Uint8Array([1, 2, 3]));
    const dups = ms[0]!.counters.duplicates;
    ms[0]!.receive(id(2), {
      kind: 'gossip',
      records: [ms[5]!.record],
      deaths: [],
      suspects: [],
    });
    expect(ms[0]!.counters.duplicates).toBe(dups + 1);
  });

  it('a crashed member is confirmed dead everywhere after the suspicion period, and only it', () => {
    const { net, ms } = cluster(40);
    net.clock.run(30_000, () => ms.every((m) => m.liveCount() === 39));
    net.clock.run(net.clock.now() + 5000);
    const t0 = net.clock.now();
    net.crash(id(7));
    net.clock.run(t0 + 30_000, () => ms.every((m, i) => i === 7 || !m.recordOf(id(7))));
    const took = net.clock.now() - t0;
    expect(ms.every((m, i) => i === 7 || !m.recordOf(id(7)))).toBe(true);
    // The suspicion period counted from the crash (its neighbours' links
    // closed then), plus the death's spread: not a probe, a re-probe and the
    // holders' slack more.
    expect(took).toBeGreaterThanOrEqual(5000);
    expect(took).toBeLessThan(5000 + 1000);
    for (const [i, m] of ms.entries()) if (i !== 7) expect(m.liveCount()).toBe(38);
  });

  it('a member refutes a suspicion about itself: nobody confirms it dead', () => {
    const { net, ms } = cluster(20);
    net.clock.run(30_000, () => ms.every((m) => m.liveCount() === 19));
    const v = ms[3]!.version;
    // m0 suspects m3 (as if its probes were lost) and tells its links.
    ms[0]!.receive(id(1), {
      kind: 'gossip',
      records: [],
      deaths: [],
      suspects: [{ id: id(3), version: v }],
    });
    net.clock.run(net.clock.now() + 20_000);
    expect(ms[3]!.version).toBeGreaterThan(v);
    expect(ms[3]!.counters.refutations).toBeGreaterThan(0);
    for (const [i, m] of ms.entries()) if (i !== 3) expect(m.recordOf(id(3))).toBeDefined();
  });

  it('a holder whose event loop stalls over a suspicion deadline reads the refutation that waited before confirming', () => {
    const net = new SimNetwork(10, OPTS);
    const gone: string[] = [];
    const holder = net.add('holder', new Uint8Array(1), { gone: (id) => gone.push(id) });
    const x = net.add('x', new Uint8Array(1));
    holder.receive('a', { kind: 'gossip', records: [x.record], deaths: [], suspects: [] });
    // Four suspectors: the suspicion's shortest timeout (5 s, plus the slack
    // a holder gives the raisers: 6.5 s from now).
    const t0 = net.clock.now();
    const suspects = ['s1', 's2', 's3', 's4'].map((by) => ({ id: 'x', version: 1, by }));
    holder.receive('a', { kind: 'gossip', records: [], deaths: [], suspects });
    expect(holder.isSuspect('x')).toBe(true);
    // The holder's loop stalls from 6 s to 8 s; x's refutation reaches it at
    // 6.1 s and waits unread behind the verdict timer (due at 6.5 s), which
    // the resumed loop runs first.
    net.pausedFrom.set('holder', t0 + 6000);
    net.pausedUntil.set('holder', t0 + 8000);
    x.linkUp('holder', false);
    net.clock.run(t0 + 6100);
    x.update();
    net.clock.run(t0 + 20_000);
    expect(gone).toEqual([]);
    expect(holder.isSuspect('x')).toBe(false);
    expect(holder.recordOf('x')?.version).toBe(2);
  });

  it('a holder whose event loop is saturated (no timer lag) waits for a refutation just past the deadline, and still confirms a silent suspect within two probe timeouts more', () => {
    for (const refutes of [true, false]) {
      const net = new SimNetwork(10, OPTS);
      const gone: string[] = [];
      let goneAt = NaN;
      const holder = net.add('holder', new Uint8Array(1), {
        gone: (id) => {
          gone.push(id);
          goneAt = net.clock.now();
        },
      });
      net.utilisation.set('holder', 0.95);
      const x = net.add('x', new Uint8Array(1));
      holder.receive('a', { kind: 'gossip', records: [x.record], deaths: [], suspects: [] });
      // Four suspectors: confirmed 6.5 s from now (as in the stall test above).
      const t0 = net.clock.now();
      const suspects = ['s1', 's2', 's3', 's4'].map((by) => ({ id: 'x', version: 1, by }));
      holder.receive('a', { kind: 'gossip', records: [], deaths: [], suspects });
      x.linkUp('holder', false);
      // x refutes half a second after the deadline (its own loop, or the
      // holder's reads, a turn behind).
      net.clock.run(t0 + 7000);
      if (refutes) x.update();
      net.clock.run(t0 + 20_000);
      if (refutes) {
        expect(gone).toEqual([]);
        expect(holder.recordOf('x')?.version).toBe(2);
      } else {
        // The deadline (6.5 s) plus at most two probe timeouts of waiting.
        expect(gone).toEqual(['x']);
        expect(goneAt - t0).toBeLessThanOrEqual(6500 + 2 * OPTS.probeTimeoutMs + 100);
      }
    }
  });

  it('a raiser whose relayed probes go unanswered dials the suspect itself before declaring it dead', () => {
    const net = new SimNetwork(10, OPTS);
    const gone: string[] = [];
    const raiser = net.add('raiser', new Uint8Array(1), { gone: (id) => gone.push(id) });
    const x = net.add('x', new Uint8Array(1));
    // The raiser's other links (the degree: it dials no more) relay nothing
    // (helpers whose dials time out on a busy host, say): every indirect
    // probe of x fails, and so do the raiser's probes of them.
    const helpers = ['h1', 'h2', 'h3', 'h4'].map((id) => ({
      id,
      version: 1,
      left: false,
      payload: new Uint8Array(1),
      sig: new Uint8Array(64),
    }));
    raiser.receive('h1', {
      kind: 'gossip',
      records: [x.record, ...helpers],
      deaths: [],
      suspects: [],
    });
    for (const h of helpers) raiser.linkUp(h.id, false);
    raiser.linkUp('x', false);
    x.linkUp('raiser', false);
    raiser.start();
    x.start();
    // The raiser's link to x closes while x runs (a connection lost during a
    // start): nobody else suspects x, so the raiser alone decides.
    raiser.linkDown('x');
    x.linkDown('raiser');
    net.clock.run(net.clock.now() + 60_000);
    expect(raiser.counters.raised).toBeGreaterThan(0);
    expect(gone).not.toContain('x');
    expect(raiser.recordOf('x')).toBeDefined();
    expect(raiser.isSuspect('x')).toBe(false);
  });

  it('one lost link alone is no crash: a lost suspicion claiming an old loss is refuted, never confirmed', () => {
    const { net, ms } = cluster(20);
    net.clock.run(30_000, () => ms.every((m) => m.liveCount() === 19));
    const v = ms[3]!.version;
    // m0 says it lost its link to m3 long ago (a forged or stale age), while
    // m3 stalls for 2 s (its neighbours' probes fail too). One lost link
    // counts as one suspector, from when it was heard: m3 resumes in time to
    // refute. (Taken as a crash, it would be confirmed at once.)
    const now = net.clock.now();
    net.pausedFrom.set(id(3), now);
    net.pausedUntil.set(id(3), now + 2000);
    const lost = { id: id(3), version: v, by: id(0), lost: true, lostMs: 1e9 };
    for (const [i, m] of ms.entries())
      if (i !== 0 && i !== 3)
        m.receive(id(0), { kind: 'gossip', records: [], deaths: [], suspects: [lost] });
    net.clock.run(net.clock.now() + 30_000);
    expect(ms[3]!.version).toBeGreaterThan(v);
    for (const [i, m] of ms.entries()) {
      if (i === 3) continue;
      expect(m.counters.deaths).toBe(0);
      expect(m.recordOf(id(3))).toBeDefined();
    }
  });

  it('a suspicion or death of an older version than we hold is answered with the newer one', () => {
    const net = new SimNetwork(10, OPTS);
    const sent: { to: string; msg: MeshMessage }[] = [];
    const m = new Membership(
      'holder',
      new Uint8Array(1),
      { send: (to, msg) => sent.push({ to, msg }), connect() {}, disconnect() {} },
      SIM_SIGNER,
      net.clock,
    );
    const rec = (version: number) => ({
      id: 'x',
      version,
      left: false,
      payload: new Uint8Array([5]),
      sig: new Uint8Array(64),
    });
    m.receive('p', { kind: 'gossip', records: [rec(3)], deaths: [], suspects: [] });
    sent.length = 0;
    // 'p' missed x's refutation (version 3) and suspects, then declares dead, version 2.
    m.receive('p', {
      kind: 'gossip',
      records: [],
      deaths: [],
      suspects: [{ id: 'x', version: 2 }],
    });
    m.receive('p', {
      kind: 'gossip',
      records: [],
      deaths: [{ id: 'x', version: 2 }],
      suspects: [],
    });
    expect(m.isSuspect('x')).toBe(false);
    expect(m.recordOf('x')?.version).toBe(3);
    const answers = sent.filter((x) => x.to === 'p' && x.msg.kind === 'gossip');
    expect(answers).toHaveLength(2);
    for (const { msg } of answers)
      expect(msg.kind === 'gossip' && msg.alives?.map((a) => [a.id, a.version])).toEqual([
        ['x', 3],
      ]);
  });

  it('a newer version of a member whose link was lost clears the suspicion but not the evidence: it is probed again', () => {
    const { net, m, sent } = recordingMember('holder');
    knowAandX(m);
    // x's connection closes (it died, having refuted a suspicion just before):
    // the probe through helper 'a' goes unanswered, and m suspects x.
    const t0 = net.clock.now();
    m.linkDown('x');
    net.clock.run(t0 + 2000);
    expect(m.isSuspect('x')).toBe(true);
    // x's refutation (version 2), relayed by 'a', clears the suspicion; m asks
    // 'a' to probe x again, and suspects it again when that goes unanswered.
    sent.length = 0;
    m.receive('a', { kind: 'gossip', records: [liveRecord('x', 2)], deaths: [], suspects: [] });
    expect(m.recordOf('x')?.version).toBe(2);
    expect(sent.some((s) => s.to === 'a' && s.msg.kind === 'ping-req')).toBe(true);
    net.clock.run(t0 + 4000);
    expect(m.isSuspect('x')).toBe(true);
    // With no answer and nobody else suspecting x, it is confirmed dead in the end.
    net.clock.run(t0 + 60_000, () => m.isDead('x'));
    expect(m.isDead('x')).toBe(true);
  });

  it('a member that refuted a crash suspicion from two lost links gets a whole grace period to refute the next', () => {
    const net = new SimNetwork(10, OPTS);
    const gone: string[] = [];
    const m = new Membership(
      'holder',
      new Uint8Array(1),
      { send() {}, connect() {}, disconnect() {} },
      SIM_SIGNER,
      net.clock,
      { gone: (id) => gone.push(id) },
      OPTS,
    );
    knowAandX(m);
    // m and b both lose their links to x (two lost links: a crash, confirmed
    // 5 s after the loss), and x, slow but alive, refutes at 4 s.
    const t0 = net.clock.now();
    m.linkDown('x');
    const lostByB = (version: number, lostMs: number) => ({
      kind: 'gossip' as const,
      records: [],
      deaths: [],
      suspects: [{ id: 'x', version, by: 'b', lost: true, lostMs }],
    });
    m.receive('a', lostByB(1, 0));
    net.clock.run(t0 + 4000);
    expect(m.isSuspect('x')).toBe(true);
    m.receive('a', { kind: 'gossip', records: [liveRecord('x', 2)], deaths: [], suspects: [] });
    // The probe after it fails again (x is still slow), and b suspects again
    // too: x must have the grace period from its refutation, not what is left
    // of the one from the loss, to refute again (it does at 7 s).
    net.clock.run(t0 + 5500);
    expect(m.isSuspect('x')).toBe(true);
    m.receive('a', lostByB(2, 1000));
    net.clock.run(t0 + 7000);
    m.receive('a', { kind: 'gossip', records: [liveRecord('x', 3)], deaths: [], suspects: [] });
    net.clock.run(t0 + 8000);
    expect(gone).toEqual([]);
    expect(m.recordOf('x')?.version).toBe(3);
  });

  it('a tombstone removes the member everywhere at once', () => {
    const { net, ms } = cluster(30);
    net.clock.run(30_000, () => ms.every((m) => m.liveCount() === 29));
    const t0 = net.clock.now();
    ms[9]!.leave();
    net.clock.run(t0 + 10_000, () => ms.every((m, i) => i === 9 || !m.recordOf(id(9))));
    expect(net.clock.now() - t0).toBeLessThan(200);
  });

  it('a member that left does not come back by refuting a suspicion or updating its record', () => {
    const { net, ms } = cluster(10);
    net.clock.run(30_000, () => ms.every((m) => m.liveCount() === 9));
    ms[4]!.leave();
    const tombstone = ms[4]!.version;
    // While it waits to stop, someone suspects it (a late probe) and its owner republishes.
    ms[4]!.receive(id(0), {
      kind: 'gossip',
      records: [],
      deaths: [],
      suspects: [{ id: id(4), version: tombstone }],
    });
    ms[4]!.update(new Uint8Array(100));
    expect(ms[4]!.version).toBe(tombstone);
    expect(ms[4]!.record.left).toBe(true);
    net.clock.run(net.clock.now() + 10_000);
    for (const [i, m] of ms.entries()) if (i !== 4) expect(m.recordOf(id(4))).toBeUndefined();
  });

  it('refuses records with a bad signature, over the size bound, and past the member bound', async () => {
    const key = await generateKeyPair('Ed25519');
    const self = peerIdFromPrivateKey(key).toString();
    const invalid: string[] = [];
    const net = new SimNetwork(10, OPTS);
    const signer = {
      sign: (b: Uint8Array) => key.sign(b) as Uint8Array,
      verify: (who: string, b: Uint8Array, sig: Uint8Array) =>
        peerIdFromString(who).publicKey!.verify(b, sig) === true,
    };
    const m = new Membership(
      self,
      new Uint8Array(1),
      { send() {}, connect() {}, disconnect() {} },
      signer,
      net.clock,
      { invalid: (_from, why) => invalid.push(why) },
      { ...OPTS, maxRecordBytes: 1024, maxMembers: 2 },
    );
    const other = await generateKeyPair('Ed25519');
    const otherId = peerIdFromPrivateKey(other).toString();
    const rec = (k: typeof other, who: string, bytes: number, version = 1) => {
      const payload = new Uint8Array(bytes);
      return {
        id: who,
        version,
        left: false,
        payload,
        sig: k.sign(signingBytes(who, version, false, payload)) as Uint8Array,
      };
    };
    const send = (r: ReturnType<typeof rec>) =>
      m.receive('x', { kind: 'gossip', records: [r], deaths: [], suspects: [] });
    send(rec(key, otherId, 10)); // signed by the wrong key
    send(rec(other, otherId, 2048)); // too large
    expect(invalid).toEqual([
      expect.stringMatching(/bad signature/),
      expect.stringMatching(/over the 1024-byte bound/),
    ]);
    expect(m.size).toBe(0);
    send(rec(other, otherId, 10));
    expect(m.liveCount()).toBe(1);
    const k3 = await generateKeyPair('Ed25519');
    const k4 = await generateKeyPair('Ed25519');
    send(rec(k3, peerIdFromPrivateKey(k3).toString(), 10));
    send(rec(k4, peerIdFromPrivateKey(k4).toString(), 10));
    expect(m.size).toBe(2);
    expect(m.counters.dropped).toBe(1);
    // Deaths of members it never knew take no slot.
    m.receive('x', {
      kind: 'gossip',
      records: [],
      deaths: [{ id: 'nobody', version: 9 }],
      suspects: [],
    });
    expect(m.size).toBe(2);
  });

  it('Lifeguard: a refutation travels as a small alive, and the record it rebuilds verifies', () => {
    const { net, ms } = cluster(20);
    net.clock.run(30_000, () => ms.every((m) => m.liveCount() === 19));
    net.clock.run(net.clock.now() + 3000);
    net.resetTraffic();
    const v = ms[3]!.version;
    ms[0]!.receive(id(1), {
      kind: 'gossip',
      records: [],
      deaths: [],
      suspects: [{ id: id(3), version: v }],
    });
    net.clock.run(net.clock.now() + 2000);
    for (const [i, m] of ms.entries()) if (i !== 3) expect(m.recordOf(id(3))!.version).toBe(v + 1);
    // Everyone rebuilt v+1 from an alive (nobody pulled the record).
    const alives = ms.reduce((n, m) => n + m.counters.alives, 0);
    expect(alives).toBe(19);
    expect(net.byKind.get('pull') ?? 0).toBe(0);
    // The rebuilt record is the owner's own, signature and all.
    expect(ms[0]!.recordOf(id(3))!.sig).toEqual(ms[3]!.record.sig);
  });

  it('Lifeguard: an alive with a bad signature is refused; one for a payload not held is pulled', async () => {
    const key = await generateKeyPair('Ed25519');
    const self = peerIdFromPrivateKey(key).toString();
    const other = await generateKeyPair('Ed25519');
    const otherId = peerIdFromPrivateKey(other).toString();
    const net = new SimNetwork(10, OPTS);
    const sent: { to: string; kind: string }[] = [];
    const invalid: string[] = [];
    const m = new Membership(
      self,
      new Uint8Array(1),
      { send: (to, msg) => sent.push({ to, kind: msg.kind }), connect() {}, disconnect() {} },
      {
        sign: (b) => key.sign(b) as Uint8Array,
        verify: (who, b, sig) => peerIdFromString(who).publicKey!.verify(b, sig) === true,
      },
      net.clock,
      { invalid: (_f, why) => invalid.push(why) },
      OPTS,
    );
    const payload = new Uint8Array([7, 7, 7]);
    const rec = {
      id: otherId,
      version: 1,
      left: false,
      payload,
      sig: other.sign(signingBytes(otherId, 1, false, payload)) as Uint8Array,
    };
    m.receive('x', { kind: 'gossip', records: [rec], deaths: [], suspects: [] });
    const alive = (version: number, signer: typeof key, p = payload) => ({
      id: otherId,
      version,
      digest: payloadDigest(p),
      sig: signer.sign(signingBytesOf(otherId, version, false, payloadDigest(p))) as Uint8Array,
    });
    const send = (a: ReturnType<typeof alive>) =>
      m.receive('x', { kind: 'gossip', records: [], deaths: [], suspects: [], alives: [a] });
    send(alive(2, key)); // forged: signed by another key
    expect(invalid).toEqual([expect.stringMatching(/alive .* bad signature/)]);
    expect(m.recordOf(otherId)!.version).toBe(1);
    send(alive(3, other, new Uint8Array([9]))); // a payload we do not hold
    expect(m.recordOf(otherId)!.version).toBe(1);
    expect(sent).toContainEqual({ to: 'x', kind: 'pull' });
    send(alive(4, other));
    expect(m.recordOf(otherId)!.version).toBe(4);
    expect(m.counters.alives).toBe(1);
  });

  it('Lifeguard: a suspicion waits longest with one suspector and shrinks with confirmations', () => {
    const wait = (suspectors: number) => {
      const { net, ms } = cluster(12);
      net.clock.run(30_000, () => ms.every((m) => m.liveCount() === 11));
      const v = ms[5]!.version;
      // m5 stops answering anything (paused for good), without its links resetting.
      net.pausedUntil.set(id(5), Infinity);
      const t0 = net.clock.now();
      for (let k = 0; k < suspectors; k++)
        ms[0]!.receive(id(1), {
          kind: 'gossip',
          records: [],
          deaths: [],
          suspects: [{ id: id(5), version: v, by: `far${k}` }],
        });
      net.clock.run(t0 + 60_000, () => ms[0]!.isDead(id(5)));
      return net.clock.now() - t0;
    };
    const one = wait(1);
    const four = wait(4);
    // One suspector: up to 3 x 5 s (plus slack); four: about the 5 s minimum.
    expect(four).toBeGreaterThanOrEqual(5000);
    expect(four).toBeLessThan(9000);
    expect(one).toBeGreaterThan(four + 3000);
  });

  it("a member never sheds a link that is the other side's only one; it sheds those the other side can spare", () => {
    const net = new SimNetwork(10, OPTS);
    const sent: { to: string; kind: string; links?: number }[] = [];
    const hungUp: string[] = [];
    const seed = new Membership(
      'seed',
      new Uint8Array(1),
      {
        send: (to, msg) => sent.push({ to, kind: msg.kind, links: msg.links }),
        connect() {},
        disconnect: (to) => hungUp.push(to),
      },
      { sign: () => new Uint8Array(64), verify: () => true },
      net.clock,
      {},
      OPTS,
    );
    // 20 joiners link to the seed at once (maxLinks 8): each holds this link only.
    const joiners = Array.from({ length: 20 }, (_, i) => `j${i}`);
    for (const j of joiners) {
      seed.linkUp(j);
      seed.receive(j, { kind: 'ping', nonce: 1, links: 1 });
    }
    expect(sent.every((f) => f.links !== undefined && f.links >= 1)).toBe(true);
    net.clock.run(net.clock.now() + 3 * OPTS.minLinkAgeMs);
    seed.maintain();
    expect(seed.linkIds()).toHaveLength(20);
    expect(hungUp).toEqual([]);
    expect(sent.filter((f) => f.kind === 'unlink')).toEqual([]);
    // Five have meshed (they say they hold more than the degree): only those may go.
    const meshed = joiners.slice(0, 5);
    for (const j of meshed) seed.receive(j, { kind: 'ping', nonce: 2, links: OPTS.degree + 1 });
    seed.maintain();
    expect([...hungUp].sort()).toEqual([...meshed].sort());
    expect(sent.filter((f) => f.kind === 'unlink').map((f) => f.to)).toEqual(hungUp);
    expect(seed.linkIds()).toHaveLength(15);
    expect(seed.counters.shed).toBe(5);
  });

  it('a seed above the degree lets a joiner go at once when it holds another link and has synced, never below the degree', () => {
    const net = new SimNetwork(10, OPTS);
    const hungUp: string[] = [];
    const seed = new Membership(
      'seed',
      new Uint8Array(1),
      { send() {}, connect() {}, disconnect: (to) => hungUp.push(to) },
      { sign: () => new Uint8Array(64), verify: () => true },
      net.clock,
      {},
      OPTS,
    );
    // A mesh link (its first frame says it holds others) and six joiners
    // (their first frame says the seed is their only link): 7 links, under
    // maxLinks, and the transport has no bound, so nothing was shed before.
    seed.linkUp('member');
    seed.receive('member', { kind: 'ping', nonce: 1, links: 3 });
    const joiners = Array.from({ length: 6 }, (_, i) => `j${i}`);
    for (const j of joiners) {
      seed.linkUp(j);
      seed.receive(j, { kind: 'ping', nonce: 1, links: 1 });
    }
    // All but j5 sync (a digest that differs: the seed answers with its entries).
    for (const j of joiners.slice(0, 5)) seed.receive(j, { kind: 'digest', hash: 'x', count: 2 });
    seed.maintain();
    expect(hungUp).toEqual([]);
    // Long before minLinkAgeMs: j0-j3 and the unsynced j5 hold another link
    // now, and so does the mesh member (it holds 5).
    for (const j of ['j0', 'j1', 'j2', 'j3', 'j5'])
      seed.receive(j, { kind: 'ping', nonce: 2, links: 2 });
    seed.receive('j1', { kind: 'ping', nonce: 3, links: 3 });
    seed.receive('member', { kind: 'ping', nonce: 2, links: 5 });
    expect(net.clock.now()).toBeLessThan(OPTS.minLinkAgeMs);
    seed.maintain();
    // Busiest first, down to the degree (4 of 7 kept): j1, then two of j0, j2, j3.
    expect(hungUp).toHaveLength(3);
    expect(hungUp[0]).toBe('j1');
    for (const j of hungUp) expect(['j0', 'j1', 'j2', 'j3']).toContain(j);
    expect(seed.linkIds()).toHaveLength(OPTS.degree);
    expect(seed.linkIds()).toContain('member');
    expect(seed.linkIds()).toContain('j5');
    expect(seed.counters.shed).toBe(3);
  });

  it('a seed points each joiner to its links with room, fewest links first, and no member to more joiners than it has room for', () => {
    const { net, m: seed, sent } = recordingMember('seed');
    // Linked: three meshed members (5 links each) and three joiners that
    // hold 2, 1 and 3 links; the directory has ten more members.
    const held = { m1: 5, m2: 5, m3: 5, j1: 2, j2: 1, j3: 3 };
    const others = Array.from({ length: 10 }, (_, i) => `o${i}`);
    seed.receive('o0', {
      kind: 'gossip',
      records: [...Object.keys(held), ...others].map((m) => liveRecord(m, 1)),
      deaths: [],
      suspects: [],
    });
    for (const [m, links] of Object.entries(held)) {
      seed.linkUp(m, false);
      seed.receive(m, { kind: 'ping', nonce: 1, links });
    }
    const pointedTo = (joiner: string) => {
      sent.length = 0;
      seed.linkUp(joiner, false);
      // Its first frame (its record): the seed is its only link.
      const first = [liveRecord(joiner, 1)];
      seed.receive(joiner, { kind: 'gossip', records: first, deaths: [], suspects: [], links: 1 });
      const room = sent.filter((s) => s.to === joiner && s.msg.kind === 'gossip');
      if (!room.length) return [];
      expect(room).toHaveLength(1);
      const msg = room[0]!.msg;
      if (msg.kind !== 'gossip') throw new Error('not gossip');
      // The records of the members it names travel with them (the joiner can dial them now).
      expect(msg.records.map((r) => r.id)).toEqual(msg.room);
      return msg.room ?? [];
    };
    // Fewest first (j2 holds 1, j1 2), two: a joiner's dials in one round.
    expect(pointedTo('n1')).toEqual(['j2', 'j1']);
    // Ten more joiners: each member is pointed to at most as many joiners as
    // it has room for (the degree less the links it said it holds; a joiner
    // holds 1), never one that holds the degree or more.
    const times = new Map<string, number>();
    for (const m of ['j2', 'j1']) times.set(m, 1);
    for (let k = 2; k <= 11; k++)
      for (const m of pointedTo(`n${k}`)) times.set(m, (times.get(m) ?? 0) + 1);
    const room = (m: string) => OPTS.degree - ((held as Record<string, number>)[m] ?? 1);
    for (const [m, n] of times) expect(n, m).toBeLessThanOrEqual(room(m));
    for (const m of ['m1', 'm2', 'm3']) expect(times.has(m)).toBe(false);
    // A frame from j2 saying how many links it holds now replaces what we counted.
    // (The joiners go, and more come and go, until the room left is taken.)
    for (let k = 1; k <= 11; k++) seed.linkDown(`n${k}`);
    let none = false;
    for (let k = 12; k <= 40 && !none; k++) {
      none = pointedTo(`n${k}`).length === 0;
      seed.linkDown(`n${k}`);
    }
    expect(none).toBe(true);
    seed.receive('j2', { kind: 'ping', nonce: 2, links: 2 });
    expect(pointedTo('n42')).toEqual(['j2']);
    // A joiner still in its first digest exchange with the seed (it lacks
    // most of the directory) is pointed to nobody until the exchange is done.
    // (Its link gone, the seed's upkeep lets j2 go: it holds another link.)
    seed.linkDown('n42');
    expect(seed.linkIds()).not.toContain('j2');
    seed.linkUp('s1');
    seed.receive('s1', {
      kind: 'gossip',
      records: [liveRecord('s1', 1)],
      deaths: [],
      suspects: [],
      links: 1,
    });
    expect(pointedTo('n43')).toEqual([]);
    seed.linkDown('n43');
    seed.receive('s1', { kind: 'digest', hash: 'x', count: 2 });
    expect(pointedTo('n44')).toEqual(['s1']);
    // A member whose first frame says it holds other links gets nothing.
    sent.length = 0;
    seed.linkUp('m4', false);
    seed.receive('m4', { kind: 'ping', nonce: 1, links: 3 });
    expect(sent.filter((s) => s.msg.kind === 'gossip')).toEqual([]);
  });

  it('a joiner dials the members its seed pointed it to before random ones; a pointer from a member it holds no link to is ignored', () => {
    const net = new SimNetwork(10, OPTS);
    const dialed: string[] = [];
    const joiner = new Membership(
      'joiner',
      new Uint8Array(1),
      { send() {}, connect: (to) => dialed.push(to), disconnect() {} },
      { sign: () => new Uint8Array(64), verify: () => true },
      net.clock,
      {},
      OPTS,
    );
    const members = Array.from({ length: 20 }, (_, i) => `m${i}`);
    joiner.linkUp('seed', false);
    joiner.receive('seed', {
      kind: 'gossip',
      records: [liveRecord('seed', 1), ...members.map((m) => liveRecord(m, 1))],
      deaths: [],
      suspects: [],
      links: 8,
    });
    // A stranger's pointer is not taken.
    joiner.receive('m1', { kind: 'gossip', records: [], deaths: [], suspects: [], room: ['m2'] });
    joiner.receive('seed', {
      kind: 'gossip',
      records: [liveRecord('m17', 1), liveRecord('m5', 1)],
      deaths: [],
      suspects: [],
      room: ['m17', 'm5'],
      links: 8,
    });
    joiner.maintain();
    // Two dials a round (OPTS' default dialsPerRound): both to the members pointed to.
    expect(dialed).toEqual(['m17', 'm5']);
    // The pointer is used once: the next round dials a random member (m2
    // among them: it is a member like any other, only not a pointer).
    dialed.length = 0;
    joiner.maintain();
    expect(dialed).toHaveLength(1);
    expect(['m17', 'm5']).not.toContain(dialed[0]);
  });

  it('joiners through one seed lose no link mid-start: each tells the seed once meshed, and the seed sheds down to maxLinks', () => {
    const { net, ms } = cluster(60);
    net.clock.run(60_000, () => ms.every((m) => m.liveCount() === 59));
    net.clock.run(net.clock.now() + 10_000);
    expect(ms.reduce((n, m) => n + m.counters.orphaned, 0)).toBe(0);
    expect(ms[0]!.linkIds().length).toBeLessThanOrEqual(8);
    for (const m of ms) expect(m.linkIds().length).toBeGreaterThanOrEqual(OPTS.degree);
  });

  it('at its link cap a seed refers 51 of 59 joiners elsewhere, never holds more than the cap, and all of them join', () => {
    const { net, ms } = cluster(60, { linkCap: 8 });
    let most = 0;
    net.clock.run(60_000, () => {
      most = Math.max(most, ...ms.map((m) => m.linkIds().length));
      return ms.every((m) => m.liveCount() === 59);
    });
    expect(ms.every((m) => m.liveCount() === 59)).toBe(true);
    expect(most).toBeLessThanOrEqual(8);
    expect(ms[0]!.counters.referred).toBeGreaterThanOrEqual(51);
    net.clock.run(net.clock.now() + 10_000);
    for (const m of ms) expect(m.linkIds().length).toBeGreaterThanOrEqual(OPTS.degree);
  });

  it('a member nothing listens for (a dial refused everywhere) is probed through a helper and suspected unless it answers', () => {
    for (const c of ['linked', 'silent', 'answers'] as const) {
      const { net, m, sent } = recordingMember('m');
      m.receive('a', {
        kind: 'gossip',
        records: [liveRecord('a', 1), liveRecord('x', 1)],
        deaths: [],
        suspects: [],
      });
      m.linkUp('a', false);
      if (c === 'linked') m.linkUp('x', false);
      m.unreachable('x');
      const req = sent.find((s) => s.msg.kind === 'ping-req');
      if (c === 'linked') {
        // A linked member is probed over its link, not on a refused dial.
        expect(req).toBeUndefined();
        continue;
      }
      expect(req).toMatchObject({ to: 'a', msg: { kind: 'ping-req', target: 'x' } });
      if (c === 'answers')
        m.receive('a', { kind: 'ack', nonce: (req!.msg as { nonce: number }).nonce });
      net.clock.run(net.clock.now() + 5_000);
      expect([c, m.isSuspect('x') || m.isDead('x')]).toEqual([c, c === 'silent']);
    }
  });

  it("a target that refused the helper's dial at its bound (its process runs) answers a relayed probe", () => {
    const net = new SimNetwork(10, OPTS);
    const sent: { to: string; msg: MeshMessage; dial?: boolean }[] = [];
    const helper = new Membership(
      'helper',
      new Uint8Array(1),
      {
        send: (to, msg, o) => sent.push({ to, msg, dial: o?.dial }),
        connect() {},
        disconnect() {},
      },
      SIM_SIGNER,
      net.clock,
      {},
      OPTS,
    );
    helper.linkUp('requester', false);
    helper.receive('requester', { kind: 'ping-req', target: 't', nonce: 42 });
    // It had no link to t: the ping dials it.
    expect(sent).toEqual([{ to: 't', msg: expect.objectContaining({ kind: 'ping' }), dial: true }]);
    helper.refusedByLive('t');
    expect(sent.at(-1)).toEqual({
      to: 'requester',
      msg: expect.objectContaining({ kind: 'ack', nonce: 42 }),
      dial: undefined,
    });
    // Answered once: a second refusal sends nothing more.
    helper.refusedByLive('t');
    expect(sent).toHaveLength(2);
  });

  it('a prober whose own event loop stalls raises no suspicion; one whose loop runs does', () => {
    for (const stalled of [true, false]) {
      const net = new SimNetwork(10, OPTS);
      const prober = proberOfSilentPeer({
        now: () => net.clock.now(),
        setTimeout: (fn, ms) => net.clock.setTimeout(fn, ms),
        clearTimeout: (h) => net.clock.clearTimeout(h),
        // A stall of 2 s just ended, every time it asks (a saturated event loop).
        lagSince: () => (stalled ? 2000 : 0),
      });
      net.clock.run(net.clock.now() + 30_000);
      if (stalled) {
        expect(prober.counters.raised).toBe(0);
        expect(prober.isSuspect('peer')).toBe(false);
        expect(prober.counters.inconclusive).toBeGreaterThan(0);
      } else {
        expect(prober.counters.raised).toBeGreaterThan(0);
      }
      prober.stop();
    }
  });

  it('a frame from the probed member answers the probe: no suspicion while it keeps sending', () => {
    const net = new SimNetwork(10, OPTS);
    const prober = proberOfSilentPeer(net.clock);
    // The peer sends a digest every 300 ms (its anti-entropy, say), never an ack.
    const chatter = () => {
      prober.receive('peer', { kind: 'digest', hash: '0', count: 1 });
      net.clock.setTimeout(chatter, 300);
    };
    chatter();
    net.clock.run(net.clock.now() + 30_000);
    expect(prober.counters.raised).toBe(0);
    prober.stop();
  });

  it('Lifeguard: a member whose probes all fail raises its local health score, and recovers', () => {
    const { net, ms } = cluster(10);
    net.clock.run(30_000, () => ms.every((m) => m.liveCount() === 9));
    expect(ms[0]!.localHealth).toBe(0);
    net.loss = 1; // nothing arrives: every probe of m0 fails
    net.clock.run(net.clock.now() + 15_000);
    expect(ms[0]!.localHealth).toBeGreaterThan(0);
    net.loss = 0;
    net.clock.run(net.clock.now() + 120_000);
    expect(ms[0]!.localHealth).toBe(0);
  });
  it('a record a link sent us is not queued back to it: a duplicate from a link drops what was waiting for it', () => {
    // One member, driven by hand: a transport that records what it is given, a manual clock.
    const sent: { to: string; kinds: string[]; ids: string[] }[] = [];
    const timers: { at: number; fn: () => void }[] = [];
    let now = 0;
    const m = new Membership(
      'm',
      new Uint8Array(10),
      {
        send: (to, msg) =>
          sent.push({
            to,
            kinds: [msg.kind],
            ids: msg.kind === 'gossip' ? msg.records.map((r) => r.id) : [],
          }),
        connect: () => {},
        disconnect: () => {},
      },
      { sign: () => new Uint8Array(64), verify: () => true },
      {
        now: () => now,
        setTimeout: (fn, ms) => timers.push({ at: now + ms, fn }),
        clearTimeout: () => {},
      },
      {},
      { batchMs: 20 },
    );
    m.linkUp('a', false);
    m.linkUp('b', false);
    m.linkUp('c', false);
    const rec = {
      id: 'x',
      version: 3,
      left: false,
      payload: new Uint8Array(5),
      sig: new Uint8Array(64),
    };
    m.receive('a', { kind: 'gossip', records: [rec], deaths: [], suspects: [] });
    // b sends the same version before our batch went out; c sends nothing.
    m.receive('b', { kind: 'gossip', records: [rec], deaths: [], suspects: [] });
    now = 100;
    for (const t of timers.splice(0)) t.fn();
    const floods = sent.filter((s) => s.ids.includes('x')).map((s) => s.to);
    expect(floods).toEqual(['c']);
    expect(m.counters.duplicates).toBe(1);
  });
  /**
   * One member with links a and b; a sends a record every 10 ms for `burstMs`
   * (a new member's, or with `members` a new version of one of that many),
   * then goes quiet; mid-burst a also sends a suspicion of the first member.
   * `utilisation`: the clock's reading of the member's event loop. Returns the
   * gossip frames b got, the kinds sent the moment a ping arrived mid-burst,
   * how long the suspicion took to reach b, and a function to send one more
   * record.
   */
  const burstTo = (burstMs: number, members = Infinity, utilisation?: () => number) => {
    const frames: { to: string; kind: string; ids: string[]; suspects: string[]; at: number }[] =
      [];
    let timers: { at: number; fn: () => void }[] = [];
    let now = 0;
    const m = new Membership(
      'm',
      new Uint8Array(10),
      {
        send: (to, msg) =>
          frames.push({
            to,
            kind: msg.kind,
            ids: msg.kind === 'gossip' ? msg.records.map((r) => r.id) : [],
            suspects: msg.kind === 'gossip' ? msg.suspects.map((d) => d.id) : [],
            at: now,
          }),
        connect: () => {},
        disconnect: () => {},
      },
      { sign: () => new Uint8Array(64), verify: () => true },
      {
        now: () => now,
        setTimeout: (fn, ms) => {
          const t = { at: now + ms, fn };
          timers.push(t);
          return t;
        },
        clearTimeout: (t) => {
          timers = timers.filter((x) => x !== t);
        },
        utilisation,
      },
      {},
      { batchMs: 20 },
    );
    m.linkUp('a', false);
    m.linkUp('b', false);
    const advanceTo = (t: number) => {
      for (;;) {
        const due = timers.filter((x) => x.at <= t).sort((x, y) => x.at - y.at)[0];
        if (!due) break;
        timers = timers.filter((x) => x !== due);
        now = due.at;
        due.fn();
      }
      now = t;
    };
    let onPing: string[] = [];
    let suspectedAt = NaN;
    for (let i = 0; i < burstMs / 10; i++) {
      advanceTo(i * 10);
      m.receive('a', {
        kind: 'gossip',
        records: [liveRecord(`x${i % members}`, Math.floor(i / members) + 1)],
        deaths: [],
        suspects: [],
      });
      if (i === burstMs / 20) {
        // Probes are answered at once, whatever the window.
        const before = frames.length;
        m.receive('b', { kind: 'ping', nonce: 7 });
        onPing = frames.slice(before).map((f) => f.kind);
      }
      if (i === burstMs / 20 + 3) {
        suspectedAt = now;
        m.receive('a', {
          kind: 'gossip',
          records: [],
          deaths: [],
          suspects: [{ id: 'x0', version: Math.floor(i / members) + 1, by: 'a' }],
        });
      }
    }
    advanceTo(burstMs + 2000);
    const toB = frames.filter((f) => f.to === 'b' && f.ids.length);
    // (Infinity when it never reached b: a new version of x0 may overtake it.)
    const suspicionMs =
      (frames.find((f) => f.to === 'b' && f.suspects.includes('x0'))?.at ?? Infinity) - suspectedAt;
    const lone = (): number => {
      frames.length = 0;
      m.receive('a', {
        kind: 'gossip',
        records: [liveRecord('late', 1)],
        deaths: [],
        suspects: [],
      });
      advanceTo(now + 20);
      return frames.filter((f) => f.to === 'b' && f.ids.includes('late')).length;
    };
    return { toB, onPing, suspicionMs, lone };
  };
  it('a burst of gossip widens the batching window (fewer frames per link, nothing lost); a lone record after a quiet spell goes out within batchMs', () => {
    const { toB, onPing, lone } = burstTo(1000);
    // At a fixed 20 ms window this is 50 frames; widened (to at most 320 ms), about 4 + 700 / 320.
    expect(toB.length).toBeLessThan(15);
    expect(new Set(toB.flatMap((f) => f.ids)).size).toBe(100);
    expect(onPing).toEqual(['ack']);
    // After the quiet spell, one record waits one plain window.
    expect(lone()).toBe(1);
  });
  it('a long burst widens the window to 320 ms in a large directory, 160 ms in a small one; a lone record after it still goes out within batchMs', () => {
    // Ten members, each a new version every 100 ms: at most 160 ms, about 5 + 5400 / 160.
    const small = burstTo(6000, 10);
    expect(small.toB.length).toBeGreaterThan(30);
    expect(small.lone()).toBe(1);
    const { toB, onPing, lone } = burstTo(6000);
    // 6 s of records: about 5 + 5400 / 320 frames (40 at a 160 ms cap, 14 at 640 ms).
    expect(toB.length).toBeGreaterThan(18);
    expect(toB.length).toBeLessThan(26);
    expect(new Set(toB.flatMap((f) => f.ids)).size).toBe(600);
    expect(onPing).toEqual(['ack']);
    expect(lone()).toBe(1);
  });
  it('while the event loop is saturated a burst in a large directory is flushed at the saturated window from its first record (far fewer frames); below the threshold or in a small directory the frames are unchanged; a suspicion never waits for the wide window', () => {
    const plain = burstTo(6000);
    const saturated = burstTo(6000, Infinity, () => 0.95);
    // Once the directory holds more than 64 members (its 65th record, at 640 ms), 1000 ms
    // from a flush's first record, whatever the lulls: about 5000 / 1000 frames after 1 s.
    const late = (fs: { at: number }[]) => fs.filter((f) => f.at >= 1000).length;
    expect(late(saturated.toB)).toBeLessThanOrEqual(6);
    expect(late(saturated.toB)).toBeLessThan(late(plain.toB) / 2);
    expect(new Set(saturated.toB.flatMap((f) => f.ids)).size).toBe(600);
    expect(saturated.onPing).toEqual(['ack']);
    // Failure detection's gossip keeps the burst window (320 ms at most), saturated or not.
    expect(plain.suspicionMs).toBeLessThanOrEqual(320);
    expect(saturated.suspicionMs).toBeLessThanOrEqual(320);
    // A small directory (at most 64 members) keeps its window, saturated or not.
    const small = burstTo(6000, 10);
    const smallSaturated = burstTo(6000, 10, () => 0.95);
    expect(smallSaturated.toB.map((f) => [f.at, f.ids.length])).toEqual(
      small.toB.map((f) => [f.at, f.ids.length]),
    );
    // A busy loop below the threshold batches exactly as without the reading.
    const busy = burstTo(6000, Infinity, () => 0.8);
    expect(busy.toB.map((f) => [f.at, f.ids.length])).toEqual(
      plain.toB.map((f) => [f.at, f.ids.length]),
    );
    expect(busy.suspicionMs).toBe(plain.suspicionMs);
    // After the burst, unsaturated: a lone record goes out within batchMs.
    expect(busy.lone()).toBe(1);
  });
  it('anti-entropy answers a digest with the entries of the buckets that differ, not the whole directory', () => {
    const { net, ms } = cluster(120);
    net.clock.run(60_000, () => ms.every((m) => m.liveCount() === 119));
    // a and b hold the same directory but for three members' versions, which only b heard.
    const [a, b] = [ms[10]!, ms[11]!];
    for (const i of [20, 40, 60]) {
      const rec = ms[i]!.record;
      ms[i]!.update(new Uint8Array([i]));
      b.receive(id(i), {
        kind: 'gossip',
        records: [ms[i]!.record],
        deaths: [],
        suspects: [],
      });
      expect(a.recordOf(id(i))!.version).toBe(rec.version);
    }
    const d = a.digest();
    expect(d.buckets.byteLength).toBe(4 * 32);
    const answers: MeshMessage[] = [];
    const send = (b as any).transport.send.bind((b as any).transport);
    (b as any).transport.send = (to: string, msg: MeshMessage, o?: unknown) => {
      if (to === id(10)) answers.push(msg);
      send(to, msg, o);
    };
    b.receive(id(10), { kind: 'digest', ...d });
    const entries = answers.find((m) => m.kind === 'entries');
    if (entries?.kind !== 'entries') throw new Error('no entries answer');
    // At most the three differing buckets of 32, about four entries each (not all 121).
    expect(entries.buckets!.length).toBeLessThanOrEqual(3);
    expect(entries.entries.length).toBeLessThan(30);
    for (const i of [20, 40, 60]) expect(entries.entries.some((e) => e.id === id(i))).toBe(true);
    net.clock.run(net.clock.now() + 50);
    for (const i of [20, 40, 60]) expect(a.recordOf(id(i))!.payload).toEqual(new Uint8Array([i]));
  });
  /**
   * Members x—a—b in a chain over the simulation's network: x is linked to a
   * alone, a to x and b (degree 1: nobody dials a shortcut). With `busy`, a publishes a new version of its own
   * record every 500 ms for `busyMs` (the a–b link carries gossip all along).
   * x publishes one new version, and the frame that carries it from a to b is
   * lost. Returns when b first held it (virtual ms after x published), and
   * the digests a and b sent while the link was busy and after.
   */
  const lostOnLink = (busyMs: number) => {
    const net = new SimNetwork(10, { ...OPTS, degree: 1 });
    const [x, a, b] = ['x', 'a', 'b'].map((n) => net.add(n, new Uint8Array([1])));
    for (const m of [x, a, b]) m.start();
    x!.linkUp('a');
    a!.linkUp('x');
    a!.linkUp('b');
    b!.linkUp('a');
    net.clock.run(3000);
    expect(b!.recordOf('x')?.version).toBe(1);
    const digests = () => (a!.sentFor['anti-entropy'] ?? 0) + (b!.sentFor['anti-entropy'] ?? 0);
    const transport = (a as any).transport;
    const send = transport.send.bind(transport);
    // Frames to b with x's version 2: the first is lost, the second is the heal.
    let carried = 0;
    transport.send = (to: string, msg: MeshMessage, o?: unknown) => {
      const carries =
        msg.kind === 'gossip' && msg.records.some((r) => r.id === 'x' && r.version === 2);
      if (to === 'b' && carries && !carried++) return;
      send(to, msg, o);
    };
    const start = net.clock.now();
    const before = digests();
    x!.update(new Uint8Array([2]));
    let healedAt = Infinity;
    for (let t = 0; t < busyMs + 20_000; t += 100) {
      if (t < busyMs && t % 500 === 0) a!.update(new Uint8Array([3, t / 500]));
      net.clock.run(start + t + 100);
      if (healedAt === Infinity && b!.recordOf('x')?.version === 2) healedAt = t + 100;
      if (t + 100 === busyMs) var busyDigests = digests() - before;
    }
    expect(carried).toBe(2);
    return { healedAt, busyDigests: busyDigests!, quietDigests: digests() - before - busyDigests! };
  };

  it('anti-entropy passes over a link busy with gossip and resumes once it is quiet; a message lost there heals within a bound', () => {
    // 20 s of gossip on a–b (ten anti-entropy periods): each side sends a
    // digest every third round at most (about 3 + 3, not 10 + 10).
    const busy = lostOnLink(20_000);
    expect(busy.busyDigests).toBeLessThanOrEqual(9);
    // Forced after MAX_SKIPPED_ROUNDS busy rounds: healed within three periods (+ jitter).
    expect(busy.healedAt).toBeLessThanOrEqual(3 * 1.25 * OPTS.antiEntropyMs + 500);
    // Quiet after it: a digest every period again from each side (about 10 + 10).
    expect(busy.quietDigests).toBeGreaterThanOrEqual(14);
    // A quiet link heals within about one period.
    const quiet = lostOnLink(0);
    expect(quiet.healedAt).toBeLessThanOrEqual(1.25 * OPTS.antiEntropyMs + 500);
  });

  it('a link is sent the same correction once while it is in flight; a pull or push of what it has sent us is not answered', () => {
    const { net, m, sent } = recordingMember('holder');
    m.linkUp('p', false);
    m.receive('q', { kind: 'gossip', records: [liveRecord('x', 3)], deaths: [], suspects: [] });
    sent.length = 0;
    // p missed x's refutation (version 3): two suspectors' suspicions of version 2, then its death.
    for (const by of ['s1', 's2'])
      m.receive('p', {
        kind: 'gossip',
        records: [],
        deaths: [],
        suspects: [{ id: 'x', version: 2, by }],
      });
    m.receive('p', {
      kind: 'gossip',
      records: [],
      deaths: [{ id: 'x', version: 2 }],
      suspects: [],
    });
    const corrections = () =>
      sent.filter((x) => x.to === 'p' && x.msg.kind === 'gossip' && x.msg.alives?.length);
    expect(corrections()).toHaveLength(1);
    // A probe timeout later, a stale suspicion is corrected again (the first may have been lost).
    net.clock.run(net.clock.now() + 2 * OPTS.probeTimeoutMs);
    m.receive('p', {
      kind: 'gossip',
      records: [],
      deaths: [],
      suspects: [{ id: 'x', version: 2, by: 's3' }],
    });
    expect(corrections()).toHaveLength(2);
    // p then sends version 3 itself: a pull of it, or its entries listing version 2, get no record back.
    m.receive('p', { kind: 'gossip', records: [liveRecord('x', 3)], deaths: [], suspects: [] });
    sent.length = 0;
    m.receive('p', { kind: 'pull', ids: ['x'] });
    m.receive('p', { kind: 'entries', entries: [{ id: 'x', version: 2, dead: false }] });
    const records = sent.flatMap((x) =>
      x.msg.kind === 'gossip' ? x.msg.records.map((r) => r.id) : [],
    );
    expect(records).not.toContain('x');
    // Another member's record it never sent us is still pushed.
    m.receive('q', { kind: 'gossip', records: [liveRecord('y', 1)], deaths: [], suspects: [] });
    m.receive('p', { kind: 'pull', ids: ['y'] });
    expect(
      sent.some((x) => x.msg.kind === 'gossip' && x.msg.records.some((r) => r.id === 'y')),
    ).toBe(true);
  });

  it('what a link has shown it holds is kept only for members we hold: deaths and records of ids past the bound cost nothing', () => {
    const { m } = recordingMember('holder', { ...OPTS, maxMembers: 8 });
    m.linkUp('p', false);
    // 1000 deaths of members nobody knows, then 1000 records (7 fit the directory).
    for (let i = 0; i < 1000; i++)
      m.receive('p', {
        kind: 'gossip',
        records: [],
        deaths: [{ id: `d${i}`, version: 1 }],
        suspects: [],
      });
    for (let i = 0; i < 1000; i++)
      m.receive('p', {
        kind: 'gossip',
        records: [liveRecord(`r${i}`, 1)],
        deaths: [],
        suspects: [],
      });
    const shown: Map<string, number> | undefined = (m as any).shown.get('p');
    expect(shown?.size ?? 0).toBeLessThanOrEqual(8);
    // The members it sent that we hold are remembered: none is pushed back to it.
    const sent = recordsSentOnPull(m, 'p', ['r0']);
    expect(sent).toEqual([]);
  });

  it("the links that sent the version we hold are kept in the member's entry (a bit per link), not in the links' maps; a link that goes forgets it", () => {
    const { m, sent } = recordingMember('holder', { ...OPTS, maxMembers: 5000 });
    m.linkUp('p', false);
    m.linkUp('q', false);
    const records = Array.from({ length: 2000 }, (_, i) => liveRecord(`r${i}`, 1));
    m.receive('p', { kind: 'gossip', records, deaths: [], suspects: [] });
    // q sends the same versions of the first 10 (duplicates): its bit in those entries.
    m.receive('q', { kind: 'gossip', records: records.slice(0, 10), deaths: [], suspects: [] });
    const shown = (m as any).shown as Map<string, Map<string, number>>;
    expect(shown.get('p')?.size ?? 0).toBe(0);
    expect(shown.get('q')?.size ?? 0).toBe(0);
    // Neither link gets back what it sent; q gets what only p sent.
    expect(recordsSentOnPull(m, 'p', ['r0', 'r1999'])).toEqual([]);
    expect(recordsSentOnPull(m, 'q', ['r0', 'r10'])).toEqual(['r10']);
    // An entries list from p that lacks everything: nothing it sent is pushed back (our own record is).
    sent.length = 0;
    m.receive('p', { kind: 'entries', entries: [] });
    const pushed = sent.flatMap((x) => (x.msg.kind === 'gossip' ? x.msg.records : []));
    expect(pushed.map((r) => r.id)).toEqual(['holder']);
    // p's link goes and comes back: what it showed over the old link is forgotten.
    m.linkDown('p');
    m.linkUp('p', false);
    expect(recordsSentOnPull(m, 'p', ['r0', 'r1999'])).toEqual(['r0', 'r1999']);
    // A newer version from q: q holds it, p (which showed version 1) does not.
    m.receive('q', { kind: 'gossip', records: [liveRecord('r5', 2)], deaths: [], suspects: [] });
    m.linkDown('p');
    m.linkUp('p', false);
    m.receive('p', { kind: 'gossip', records: [liveRecord('r5', 1)], deaths: [], suspects: [] });
    expect(recordsSentOnPull(m, 'p', ['r5'])).toEqual(['r5']);
    expect(recordsSentOnPull(m, 'q', ['r5'])).toEqual([]);
    // Links past the 31 slots keep what they showed in their own map, to the same effect.
    for (let i = 0; i < 40; i++) m.linkUp(`l${i}`, false);
    m.receive('l39', { kind: 'gossip', records: records.slice(20, 30), deaths: [], suspects: [] });
    expect(shown.get('l39')?.size).toBe(10);
    expect(recordsSentOnPull(m, 'l39', ['r20', 'r30'])).toEqual(['r30']);
    expect(recordsSentOnPull(m, 'l0', ['r20'])).toEqual(['r20']);
  });

  it("a record received during a new link's digest exchange, in a bucket the answer left out (equal when compared), still goes to the link", () => {
    const { net, m, sent } = recordingMember('a', { ...OPTS, maxMembers: 1000 });
    m.linkUp('p', false);
    const records = Array.from({ length: 200 }, (_, i) => liveRecord(`r${i}`, 1));
    m.receive('p', { kind: 'gossip', records, deaths: [], suspects: [] });
    net.clock.run(net.clock.now() + 100);
    // A new link: we hold the smaller id, so our digest goes first.
    m.linkUp('b');
    expect(sent.some((x) => x.to === 'b' && x.msg.kind === 'digest')).toBe(true);
    const before = m.digest().buckets;
    // A record arrives from another link while the exchange runs: held for b.
    m.receive('p', { kind: 'gossip', records: [liveRecord('late', 1)], deaths: [], suspects: [] });
    const after = m.digest().buckets;
    expect(after.byteLength).toBe(before.byteLength);
    const count = before.byteLength / 4;
    const changed = [...Array(count).keys()].filter(
      (i) =>
        new DataView(before.buffer).getUint32(4 * i) !==
        new DataView(after.buffer).getUint32(4 * i),
    );
    expect(changed.length).toBe(1);
    // b's answer lists another bucket (it differed there), not the late record's.
    const other = (changed[0]! + 1) % count;
    sent.length = 0;
    m.receive('b', {
      kind: 'entries',
      entries: [{ id: 'b', version: 1, dead: false }],
      buckets: [other],
      bucketCount: count,
    });
    net.clock.run(net.clock.now() + 100);
    const toB = sent.flatMap((x) => (x.to === 'b' && x.msg.kind === 'gossip' ? x.msg.records : []));
    expect(toB.map((r) => r.id)).toContain('late');
  });

  it('the bucket summaries kept as entries change (updates, deaths, tombstones, expiry) equal those of a member that holds only the end state', () => {
    const opts = { ...OPTS, tombstoneMs: 1000, maxMembers: 1000 };
    const { net, m } = recordingMember('x', opts);
    m.linkUp('p', false);
    const v1 = Array.from({ length: 300 }, (_, i) => liveRecord(`r${i}`, 1));
    m.receive('p', { kind: 'gossip', records: v1, deaths: [], suspects: [] });
    const v2 = Array.from({ length: 10 }, (_, i) => liveRecord(`r${i}`, 2));
    const tombstones = Array.from({ length: 10 }, (_, i) => ({
      ...liveRecord(`r${20 + i}`, 2),
      left: true,
    }));
    const deaths = Array.from({ length: 10 }, (_, i) => ({ id: `r${10 + i}`, version: 1 }));
    m.receive('p', { kind: 'gossip', records: [...v2, ...tombstones], deaths, suspects: [] });
    // A death of a later version than the record held (the member refuted, and we missed it).
    m.receive('p', {
      kind: 'gossip',
      records: [],
      deaths: [{ id: 'r30', version: 3 }],
      suspects: [],
    });
    const held = recordingMember('x', opts).m;
    held.linkUp('p', false);
    const alive = [...v2, ...v1.slice(31)];
    held.receive('p', { kind: 'gossip', records: alive, deaths: [], suspects: [] });
    expect(m.digest()).not.toEqual(held.digest());
    // The deaths and tombstones expire.
    m.start();
    net.clock.run(net.clock.now() + 5000);
    m.stop();
    expect(m.size).toBe(held.size);
    expect(m.digest()).toEqual(held.digest());
  });

  it('members of one process holding the same records share each record, its digest and hashes included: under 110 heap bytes per directory entry', () => {
    // A fresh process (its heap is the measurement): 20 members, 2000 records each.
    const run = spawnSync(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', DIRECTORY_HEAP, '20', '2000'],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    expect(run.status, run.stderr).toBe(0);
    const { bytesPerEntry, held } = JSON.parse(run.stdout) as {
      bytesPerEntry: number;
      held: number;
    };
    expect(held).toBe(40_000);
    // Measured: 92 (the map slot, an entry of two fields: the record and the
    // first link that showed it); 125 with the entry's hashes, version, death
    // flag and time in each entry (80 B); 477 with a digest per member per
    // record and the entry's hash as an array of its own.
    expect(bytesPerEntry).toBeLessThan(110);
  });
});
