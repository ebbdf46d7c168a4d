/**
 * Membership protocol simulation: the gossip discovery's own membership code
 * (plugins/gossip/membership.ts) driven through a simulated network
 * (network.ts: virtual time, no sockets). One round = one message latency.
 *
 * - cold start: N members start at once, every one knowing only the seed
 *   (member 0): rounds until every member knows every other, and messages
 *   and bytes sent per member.
 * - events in a formed mesh of N members (each linked to `degree` random
 *   others and knowing its neighbours and the subject): a join (through one
 *   member), a leave (tombstone) and a crash (links reset, probes,
 *   suspicion, confirmation): rounds until every member knows, messages and
 *   bytes per member (mean, max).
 * - false suspicions: the formed mesh runs for `--loss-s` virtual seconds at
 *   1 % message loss with probing on: suspicions raised (all of live
 *   members), refutations, and live members confirmed dead (should be 0).
 * - Lifeguard under stress (`--stress`): the formed mesh at 1 % loss, with
 *   CPU pauses (each second, each member pauses with probability 1 % for
 *   2–12 s: a starved event loop) or slow members (10 % of members run every
 *   timer and message up to 1.5 s late), Lifeguard off (plain SWIM, before)
 *   and on (after): suspicions raised by probers (all false: nobody dies),
 *   refutations, confirmations of a live member's death, and the members
 *   that anyone confirmed dead (false deaths), and the bytes of refutations.
 *   `lost`: a busy start's lost links (live members' connections close, no
 *   unlink), with slow members, frames only over links (or a 1.5 s dial for
 *   a relayed probe), as the plugin's transport has them; `busy`: that, and
 *   event loops stalling 0.5-3 s (a saturated start).
 *
 * Members hold the plugin's link cap (linkCap = maxLinks; `--link-cap inf`: none).
 *
 * Usage: tsx bench/discovery/sim/sim.ts [--cold 100,300,1000] [--shapes seed,chain] [--link-cap 8|inf]
 *        [--events 1000,3000,10000] [--loss 0.01,0.1] [--loss-s 60] [--stress 1000]
 *        [--stress-s 60] [--scenarios pauses,slow,lost] [--progress]
 * A cold start's heap per directory entry is measured after a full GC when
 * node runs with --expose-gc (`node --expose-gc --max-old-space-size=M --import tsx ...`).
 */
import type { MembershipOptions } from '../../../plugins/gossip/membership.js';
import { SimNetwork } from './network.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}
const list = (s: string) => (s ? s.split(',').map(Number) : []);
const coldSizes = list(arg('cold', '100,300,1000'));
const shapes = arg('shapes', 'seed,chain').split(',') as ('seed' | 'chain')[];
const eventSizes = list(arg('events', '1000,3000,10000'));
const lossSeconds = Number(arg('loss-s', '60'));
const losses = arg('loss', '0.01,0.1').split(',').map(Number);
const stressSizes = list(arg('stress', '1000'));
const stressSeconds = Number(arg('stress-s', '60'));
const scenarios = arg('scenarios', 'pauses,slow,lost').split(',') as (
  'pauses' | 'slow' | 'lost' | 'busy'
)[];
// Each 5th round of a cold start on stderr: members that know all, heap, RSS, wall time.
const progress = process.argv.includes('--progress');
const LATENCY = 10;
const PAYLOAD_BYTES = 512;
// The plugin's bound on links (it sets linkCap to maxLinks): a member at it
// refers newcomers elsewhere, so a seed start is not a star. `--link-cap inf`:
// no bound (the simulation before 2026-12-06 10:00).
const LINK_CAP = arg('link-cap', '8') === 'inf' ? Infinity : Number(arg('link-cap', '8'));
const OPTS = {
  degree: 4,
  maxLinks: 8,
  linkCap: LINK_CAP,
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  suspicionMs: 5000,
  antiEntropyMs: 5000,
  batchMs: 0,
  maxMembers: 20_000,
};
const payload = () => new Uint8Array(PAYLOAD_BYTES);
const id = (i: number) => `m${String(i).padStart(5, '0')}`;

function perMember(net: SimNetwork, n: number) {
  const t = net.totals();
  let maxMsgs = 0;
  for (const s of net.sent.values()) maxMsgs = Math.max(maxMsgs, s.messages);
  return { msgs: t.messages / n, bytes: t.bytes / n, maxMsgs };
}

/**
 * `seed`: every member links to member 0 at once (a seed list of one).
 * `chain`: member i links to a random member j < i at once (each knows one
 * earlier member: no hub, the directory spreads through the mesh).
 */
function coldStart(n: number, how: 'seed' | 'chain') {
  const wall = performance.now();
  const heapAtStart = heapAfterGc();
  let heapPeak = 0;
  const net = new SimNetwork(LATENCY, OPTS);
  // Live members each member knows, kept by its events (counting them in
  // every member's directory each round is N² work a round).
  const known = new Int32Array(n);
  const ms = Array.from({ length: n }, (_, i) =>
    net.add(id(i), payload(), {
      alive: (_rec, first) => {
        if (first) known[i]++;
      },
      gone: () => known[i]--,
    }),
  );
  for (const m of ms) m.start();
  for (let i = 1; i < n; i++) {
    const j = how === 'seed' ? 0 : Math.floor(Math.random() * i);
    net.clock.setTimeout(() => {
      ms[i]!.linkUp(id(j));
      ms[j]!.linkUp(id(i));
    }, 0);
  }
  let done = false;
  let peakLinks = 0;
  const check = () => {
    heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
    for (const m of ms) peakLinks = Math.max(peakLinks, m.linkIds().length);
    done = known.every((k) => k === n - 1);
    if (progress && Math.round(net.clock.now() / LATENCY) % 5 === 0) {
      let all = 0;
      for (const k of known) if (k === n - 1) all++;
      const mib = (b: number) => (b / 2 ** 20).toFixed(0);
      const mu = process.memoryUsage();
      console.error(
        `  round ${net.clock.now() / LATENCY}: ${all} know all, heap ${mib(mu.heapUsed)} MiB, rss ${mib(mu.rss)} MiB, ${((performance.now() - wall) / 1000).toFixed(0)} s`,
      );
      // The last few: who they are, their links, and whom they lack.
      for (let i = 0; all >= n - 3 && i < n; i++) {
        if (known[i] === n - 1) continue;
        const lacks: string[] = [];
        for (let j = 0; j < n && lacks.length < 3; j++)
          if (j !== i && !ms[i]!.recordOf(id(j))) lacks.push(id(j));
        console.error(
          `    ${id(i)} knows ${known[i]}, links ${ms[i]!.linkIds().join(',')}; lacks ${lacks.join(',')}`,
        );
      }
    }
    if (!done) net.clock.setTimeout(check, LATENCY);
  };
  net.clock.setTimeout(check, LATENCY);
  net.clock.run(300_000, () => done);
  const rounds = done ? net.clock.now() / LATENCY : NaN;
  // (The events' count against the directories, once.)
  if (done && !ms.every((m) => m.liveCount() === n - 1))
    throw new Error('members counted as knowing all by their events do not');
  const pm = perMember(net, n);
  // The heap at all-know-all (after a full GC when --expose-gc): n (n - 1) directory entries.
  const heap = heapAfterGc() - heapAtStart;
  // Links once the mesh has settled (extra links are dropped after minLinkAgeMs).
  net.clock.run(net.clock.now() + 10_000);
  const links = ms.map((m) => m.linkIds().length);
  const hops = meshHops(ms);
  const shed = ms.reduce((k, m) => k + m.counters.shed, 0) / n;
  for (const m of ms) m.stop();
  return {
    rounds,
    ...pm,
    peakLinks,
    maxLinks: Math.max(...links),
    minLinks: Math.min(...links),
    dials: net.connects / n,
    shed,
    ...hops,
    heapMiB: heap / 2 ** 20,
    bytesPerEntry: heap / (n * (n - 1)),
    peakMiB: (heapPeak - heapAtStart) / 2 ** 20,
  };
}

/** The heap in use, after a full GC when the process runs with --expose-gc. */
function heapAfterGc(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed;
}

/**
 * The settled mesh's path lengths (links as undirected edges; a flood's hops):
 * the mean over all pairs and the diameter (the longest shortest path).
 */
function meshHops(ms: { id: string; linkIds(): string[] }[]): {
  meanHops: number;
  diameter: number;
} {
  const index = new Map(ms.map((m, i) => [m.id, i]));
  const adj = ms.map(() => new Set<number>());
  ms.forEach((m, i) => {
    for (const l of m.linkIds()) {
      const j = index.get(l);
      if (j === undefined) continue;
      adj[i]!.add(j);
      adj[j]!.add(i);
    }
  });
  let sum = 0;
  let pairs = 0;
  let diameter = 0;
  const dist = new Int32Array(ms.length);
  for (let s = 0; s < ms.length; s++) {
    dist.fill(-1);
    dist[s] = 0;
    const queue = [s];
    for (let q = 0; q < queue.length; q++) {
      const u = queue[q]!;
      for (const v of adj[u]!) {
        if (dist[v] !== -1) continue;
        dist[v] = dist[u]! + 1;
        sum += dist[v]!;
        pairs++;
        diameter = Math.max(diameter, dist[v]!);
        queue.push(v);
      }
    }
    if (queue.length < ms.length) return { meanHops: NaN, diameter: Infinity };
  }
  return { meanHops: sum / pairs, diameter };
}

/** A formed mesh: each member linked to `degree` random others, knowing its neighbours' records. */
function formed(
  n: number,
  subject: number,
  extra: Partial<MembershipOptions> = {},
  everyone = false,
) {
  const net = new SimNetwork(LATENCY, { ...OPTS, antiEntropyMs: 1e9, ...extra });
  net.countBytes = true;
  const ms = Array.from({ length: n }, (_, i) => net.add(id(i), payload()));
  const links = ms.map(() => new Set<number>());
  for (let i = 0; i < n; i++) {
    while (links[i]!.size < OPTS.degree) {
      const j = Math.floor(Math.random() * n);
      if (j === i || links[i]!.has(j) || links[j]!.size >= OPTS.maxLinks - 1) continue;
      links[i]!.add(j);
      links[j]!.add(i);
    }
  }
  const prime = (m: (typeof ms)[0], j: number) =>
    m.receive('prime', { kind: 'gossip', records: [ms[j]!.record], deaths: [], suspects: [] });
  for (let i = 0; i < n; i++) {
    for (const j of links[i]!) prime(ms[i]!, j);
    if (everyone) {
      for (let j = 0; j < n; j++) if (j !== i && !links[i]!.has(j)) prime(ms[i]!, j);
    } else if (i !== subject) prime(ms[i]!, subject);
  }
  for (let i = 0; i < n; i++) for (const j of links[i]!) ms[i]!.linkUp(id(j), false);
  net.clock.run(0);
  net.resetTraffic();
  return { net, ms };
}

function untilAll(net: SimNetwork, cond: () => boolean, limitMs: number): number {
  const t0 = net.clock.now();
  let done = false;
  const check = () => {
    done = cond();
    if (!done) net.clock.setTimeout(check, LATENCY);
  };
  check();
  if (!done) net.clock.run(t0 + limitMs, () => done);
  return done ? (net.clock.now() - t0) / LATENCY : NaN;
}

function events(n: number) {
  const out: Record<string, { rounds: number; msgs: number; bytes: number; maxMsgs: number }> = {};
  // Join: a newcomer links to one member, syncs, and its record spreads.
  {
    const { net, ms } = formed(n, 0);
    const j = net.add('joiner', payload());
    j.linkUp(id(1));
    ms[1]!.linkUp('joiner');
    const rounds = untilAll(net, () => ms.every((m) => m.recordOf('joiner') !== undefined), 60_000);
    out.join = { rounds, ...perMember(net, n) };
  }
  // Leave: the subject's tombstone.
  {
    const { net, ms } = formed(n, 0);
    ms[0]!.leave();
    const rounds = untilAll(
      net,
      () => ms.every((m, i) => i === 0 || m.recordOf(id(0)) === undefined),
      60_000,
    );
    out.leave = { rounds, ...perMember(net, n) };
  }
  // Crash: the subject dies; its neighbours see the links reset. Probing is on
  // for everyone, so the traffic includes a window of routine probes
  // (subtracted: the same window without a crash is measured first).
  {
    const { net, ms } = formed(n, 0);
    for (const m of ms) m.start();
    net.clock.run(net.clock.now() + 2000);
    net.resetTraffic();
    const t0 = net.clock.now();
    net.crash(id(0));
    const rounds = untilAll(
      net,
      () => ms.every((m, i) => i === 0 || m.recordOf(id(0)) === undefined),
      60_000,
    );
    // Routine probes (ping/ack) go on regardless; the crash costs the rest.
    const routine = (net.byKind.get('ping') ?? 0) + (net.byKind.get('ack') ?? 0);
    const all = net.totals();
    const avgBytes = all.messages ? all.bytes / all.messages : 0;
    for (const m of ms) m.stop();
    out.crash = {
      rounds,
      msgs: (all.messages - routine) / n,
      bytes: ((all.messages - routine) * avgBytes) / n,
      maxMsgs: perMember(net, n).maxMsgs,
    };
    void t0;
  }
  return out;
}

function falseSuspicions(n: number, loss: number) {
  const { net, ms } = formed(n, 0);
  net.loss = loss;
  net.countBytes = false;
  for (const m of ms) m.start();
  net.clock.run(net.clock.now() + lossSeconds * 1000);
  let raised = 0;
  let refuted = 0;
  let deaths = 0;
  for (const m of ms) {
    refuted += m.counters.refutations;
    deaths += m.counters.deaths;
  }
  // A suspicion raised by its own prober (not forwarded) is one whose
  // counter bumps without a suspect arriving; count the distinct events by
  // the refutations they forced, and the holders of each.
  for (const m of ms) raised += m.counters.suspicions;
  const liveMissing = ms.filter((m) => m.liveCount() < Math.min(n - 1, 1)).length;
  for (const m of ms) m.stop();
  return { raised, refuted, deaths, liveMissing };
}

/** False suspicions and false deaths with CPU pauses or slow members, Lifeguard off or on. */
function stress(n: number, scenario: 'pauses' | 'slow' | 'lost' | 'busy', lifeguard: boolean) {
  const { net, ms } = formed(n, 0, { lifeguard }, true);
  net.loss = 0.01;
  net.countBytes = true;
  for (const m of ms) m.start();
  if (scenario === 'slow') {
    for (let i = 0; i < n; i++) if (Math.random() < 0.1) net.slowMs.set(id(i), 1500);
  } else if (scenario === 'lost' || scenario === 'busy') {
    // A busy start: 10 % of members slow, handshakes of 1.5 s, frames only
    // over links or dials, and live members losing links (each second each
    // member's one random link closes with probability 2 %, no unlink).
    net.dialMs = 1500;
    for (let i = 0; i < n; i++) if (Math.random() < 0.1) net.slowMs.set(id(i), 1500);
    const tick = () => {
      for (let i = 0; i < n; i++) {
        const links = ms[i]!.linkIds();
        if (!links.length || Math.random() >= 0.02) continue;
        const other = links[Math.floor(Math.random() * links.length)]!;
        ms[i]!.linkDown(other);
        net.members.get(other)?.linkDown(id(i));
      }
      // busy: event loops also stall, 0.5-3 s (each second each member with probability 3 %).
      const now = net.clock.now();
      for (let i = 0; i < n && scenario === 'busy'; i++) {
        if (Math.random() < 0.03 && (net.pausedUntil.get(id(i)) ?? 0) < now) {
          net.pausedFrom.set(id(i), now);
          net.pausedUntil.set(id(i), now + 500 + Math.random() * 2500);
        }
      }
      net.clock.setTimeout(tick, 1000);
    };
    tick();
  } else {
    const tick = () => {
      const now = net.clock.now();
      for (let i = 0; i < n; i++) {
        if (Math.random() < 0.01 && (net.pausedUntil.get(id(i)) ?? 0) < now) {
          net.pausedFrom.set(id(i), now);
          net.pausedUntil.set(id(i), now + 2000 + Math.random() * 10_000);
        }
      }
      net.clock.setTimeout(tick, 1000);
    };
    tick();
  }
  net.clock.run(net.clock.now() + stressSeconds * 1000);
  let raised = 0;
  let refuted = 0;
  let deaths = 0;
  let health = 0;
  for (const m of ms) {
    raised += m.counters.raised;
    refuted += m.counters.refutations;
    deaths += m.counters.deaths;
    health = Math.max(health, m.localHealth);
  }
  // Nobody dies: a member that any other holds dead at the end is a false death.
  const dead = new Set<string>();
  for (const m of ms) for (let i = 0; i < n; i++) if (m.isDead(id(i))) dead.add(id(i));
  const gossipBytes = net.bytesByKind.get('gossip') ?? 0;
  for (const m of ms) m.stop();
  return {
    raised,
    refuted,
    deaths,
    deadAtEnd: dead.size,
    gossipKiB: gossipBytes / 1024 / n,
    health,
    dialed: net.dialed,
  };
}

const fmt = (x: number, d = 1) => (Number.isNaN(x) ? '—' : x.toFixed(d));
console.log(
  `membership simulation (degree ${OPTS.degree}, max links ${OPTS.maxLinks}, link cap ${OPTS.linkCap}, latency = 1 round, ${PAYLOAD_BYTES}-byte payloads)`,
);
if (coldSizes.length) {
  console.log(
    '\ncold start, all at once (seed: every member links to member 0; chain: each to a random earlier member)',
  );
  console.log(
    'members | start | rounds to all-know-all | msgs/member | KiB/member | max msgs of one member | peak links of one member (sampled each round) | links after 10 s (min-max) | link dials/member | shed/member | mesh hops mean / diameter | heap MiB at all-know-all (B per directory entry; GC first with --expose-gc) | heap peak MiB (sampled each round, no GC)',
  );
  for (const n of coldSizes) {
    for (const how of shapes) {
      const t0 = performance.now();
      const r = coldStart(n, how);
      console.log(
        `${n} | ${how} | ${fmt(r.rounds, 0)} | ${fmt(r.msgs)} | ${fmt(r.bytes / 1024)} | ${r.maxMsgs} | ${r.peakLinks} | ` +
          `${r.minLinks}-${r.maxLinks} | ${fmt(r.dials, 2)} | ${fmt(r.shed, 2)} | ${fmt(r.meanHops, 2)} / ${r.diameter} | ` +
          `${fmt(r.heapMiB, 0)} (${fmt(r.bytesPerEntry, 0)}) | ${fmt(r.peakMiB, 0)}` +
          `   (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
      );
    }
  }
}
if (eventSizes.length) {
  console.log(
    '\nevents in a formed mesh: rounds until all know | msgs/member | bytes/member | max msgs of one member',
  );
  console.log(
    'members | join | leave | crash (after suspicion ' + OPTS.suspicionMs / LATENCY + ' rounds)',
  );
  for (const n of eventSizes) {
    const t0 = performance.now();
    const e = events(n);
    const cell = (x: (typeof e)['join']) =>
      `${fmt(x.rounds, 0)} r, ${fmt(x.msgs)} msgs, ${fmt(x.bytes, 0)} B, max ${x.maxMsgs}`;
    console.log(
      `${n} | ${cell(e.join!)} | ${cell(e.leave!)} | ${cell(e.crash!)}   (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
    );
  }
  console.log(
    `\nfalse suspicions under message loss, ${lossSeconds} s of probing (1 probe/s/member)`,
  );
  console.log(
    'members | loss | suspicion receipts (all members) | refutations | live members confirmed dead',
  );
  for (const n of eventSizes) {
    for (const loss of losses) {
      const r = falseSuspicions(n, loss);
      console.log(`${n} | ${loss * 100} % | ${r.raised} | ${r.refuted} | ${r.deaths}`);
    }
  }
}

if (stressSizes.length) {
  console.log(
    `\nLifeguard under stress, 1 % loss, ${stressSeconds} s (pauses: 1 %/s of members stop for 2-12 s; slow: 10 % run events up to 1.5 s late; lost: slow members, 1.5 s handshakes, frames only over links or dials, 2 %/s of members lose a link; busy: lost, and 3 %/s of members stall 0.5-3 s)`,
  );
  console.log(
    'members | scenario | lifeguard | suspicions raised | refutations | death confirmations (all members) | members dead somewhere at end | gossip KiB/member | max local health | dials for a frame',
  );
  for (const n of stressSizes) {
    for (const scenario of scenarios) {
      for (const lg of [false, true]) {
        const r = stress(n, scenario, lg);
        console.log(
          `${n} | ${scenario} | ${lg ? 'on' : 'off'} | ${r.raised} | ${r.refuted} | ${r.deaths} | ${r.deadAtEnd} | ${fmt(r.gossipKiB)} | ${r.health} | ${r.dialed}`,
        );
      }
    }
  }
}
