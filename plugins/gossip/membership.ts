/**
 * Cluster membership over a bounded mesh, independent of any transport: the
 * gossip discovery runs it over libp2p (mesh-transport.ts), the protocol
 * simulation (bench/discovery/sim) over simulated links, the same code.
 *
 * - The directory: one signed, versioned record per member (its owner signs
 *   every version; a higher version replaces a lower one, equal or lower
 *   versions are dropped as duplicates). A tombstone is the owner's record
 *   with `left` set; a death (a confirmed failure) is `(id, version)`.
 * - Spreading: a member forwards what is new to it to its links (the mesh,
 *   `degree` of them, whatever the cluster size), batched per link, so a
 *   record costs each member O(degree) messages and reaches everyone in
 *   O(log N) hops.
 * - Anti-entropy: on every new link and periodically with one random link,
 *   a 16-byte summary of the directory (an XOR of per-entry hashes) is sent;
 *   on a mismatch the other side answers with its entry list, and each side
 *   pushes what the other lacks and pulls what it lacks. A joiner syncs the
 *   whole directory from its first link this way. The periodic digest goes
 *   only to a quiet link (no gossip either way for a period): on a
 *   busy one the flood itself is exchanging what is new (during a start the
 *   digests would differ by what is in flight, and their answers duplicate
 *   the flood). When every link stays busy, every few periods one goes anyway.
 *   What a link has shown it holds (versions it sent us) is not pushed back
 *   to it by an answer, and a correction is not repeated to a link before it
 *   could have read the first.
 * - Links: `degree` per member, at most `maxLinks`; every frame carries its
 *   sender's link count, and only links whose other side holds more than the
 *   degree are shed, so a joiner never loses its only link (it tells the
 *   member it joined through once it has `degree` others). A joiner's
 *   first link points it to up to `dialsPerRound` of its own links that hold
 *   fewer than the degree, which it dials before random members (one
 *   handshake fills two members' shortfall). Floods to a new
 *   link wait for its first digest exchange, which covers them.
 * - Failure detection (SWIM over the mesh): each member probes its links in
 *   turn (ping, then ping-req through up to `indirectProbes` other links);
 *   a lost link is probed at once. Any frame from the target answers a probe,
 *   and a probe during which our own event loop stalled is no verdict. An unanswered probe makes the target
 *   suspect: the suspicion spreads, and every member that holds it confirms
 *   the death after its suspicion timeout unless the member refutes it first
 *   by publishing a higher version of its record (it does when it hears it).
 *   A lost link (the kernel closed the connection) is evidence at once: it
 *   is probed through helpers at once, the raiser counts the suspicion from
 *   the loss and re-probes so that its verdict falls at the deadline, and a
 *   suspicion says how long ago its link was lost. Two or more neighbours
 *   that lost theirs (a crash closes every connection at once) make it a
 *   crash: every holder counts the shortest timeout from the earliest loss,
 *   so all confirm about the grace period after the crash. One lost link
 *   alone is one suspector like any other (a link can close for its own
 *   reasons). A death is flooded without the batching delay. Before its
 *   verdict a raiser with no link to the member dials it itself (a live
 *   member's handshake answers, a dead one's port refuses), and after the
 *   member refutes, a new suspicion from the lost link counts from then.
 * - Lifeguard (HashiCorp's extensions to SWIM, `lifeguard: true`): a member
 *   whose own probes fail or who must refute a suspicion of itself is likely
 *   the slow one, so it raises a local health score that stretches its probe
 *   interval and timeout; a suspicion's timeout starts at
 *   `suspicionMaxFactor × suspicionMs` and shrinks towards `suspicionMs` as
 *   independent suspectors confirm it; the raiser tells the suspect directly
 *   (buddy system); and a refutation travels as a small signed `alive`
 *   (id, version, payload digest), not the whole record: a record's signature
 *   covers the payload's SHA-256, so a holder of the payload rebuilds the
 *   new version's record from the alive and pulls it only if it lacks it.
 *   A verdict that falls just after our own event loop stalled waits for the
 *   loop to read what arrived meanwhile (the refutation may be among it).
 *
 * Memory is bounded: at most `maxMembers` entries, records of at most
 * `maxRecordBytes`, a bounded number of probes and relays in flight.
 */
import { createHash } from 'node:crypto';

export interface SignedRecord {
  /** The owner's identity (a libp2p peer id in the plugin). */
  readonly id: string;
  /** Increases with every record the owner publishes (updates, refutations, the tombstone). */
  readonly version: number;
  /** A tombstone: the owner left the cluster. */
  readonly left: boolean;
  /** Opaque to the membership: the plugin's name, addresses and metadata. */
  readonly payload: Uint8Array;
  readonly sig: Uint8Array;
}

export interface Death {
  readonly id: string;
  readonly version: number;
  /** For a suspicion: the member that raised it (independent confirmations shorten its timeout). */
  readonly by?: string;
  /**
   * For a suspicion: raised after the connection to the member was lost (the
   * kernel reset it: a crash) and indirect probes failed too; it waits only
   * `suspicionMs`. A starved member keeps its connections, so this is not what
   * Lifeguard guards against.
   */
  readonly lost?: boolean;
  /**
   * For a lost suspicion: how long before this message was sent the link was
   * lost (ms, at most suspicionMs). Every holder counts the grace period from
   * the loss, so all of them confirm at about the same time instead of each
   * a flood's spread later (a holder that heard it late would add the spread twice).
   */
  readonly lostMs?: number;
}

/** A new version of a record whose payload is unchanged (a refutation): the signature covers the digest. */
export interface Alive {
  readonly id: string;
  readonly version: number;
  /** SHA-256 of the payload. */
  readonly digest: Uint8Array;
  readonly sig: Uint8Array;
}

export interface DigestEntry {
  readonly id: string;
  readonly version: number;
  readonly dead: boolean;
}

export type MeshMessage = (
  | {
      kind: 'gossip';
      records: SignedRecord[];
      deaths: Death[];
      suspects: Death[];
      alives?: Alive[];
      /**
       * Members with room for a link (they said they hold fewer than the
       * degree; their records are in `records`): sent to a joiner, which
       * dials them before random members. See Membership's pointToRoom.
       */
      room?: string[];
    }
  /**
   * `buckets`: the directory split by member id into buckets, each one's
   * 32-bit summary (little-endian); the answer lists only the buckets that differ.
   */
  | { kind: 'digest'; hash: string; count: number; buckets?: Uint8Array }
  /**
   * `buckets` of `bucketCount`: the list covers only these buckets (the rest
   * are equal on both sides); absent, it is the whole directory.
   */
  | { kind: 'entries'; entries: DigestEntry[]; buckets?: number[]; bucketCount?: number }
  | { kind: 'pull'; ids: string[] }
  | { kind: 'ping'; nonce: number }
  | { kind: 'ack'; nonce: number }
  | { kind: 'ping-req'; target: string; nonce: number }
  /** The sender is dropping this link (an extra one): not a failure, nothing to probe. */
  | { kind: 'unlink' }
) & {
  /** How many links the sender holds (every frame says it; absent: not said). */
  links?: number;
};

export interface MeshTransport {
  /**
   * Best effort. A frame for a member we hold no connection to is dropped
   * unless `dial` (a relayed probe: the transport connects for it, briefly).
   */
  send(to: string, msg: MeshMessage, opts?: { dial?: boolean }): void;
  /**
   * Asks for a link to a member (`probe`: to hear from it once, before a
   * verdict); the transport calls linkUp when it holds.
   */
  connect(id: string, reason?: 'link' | 'probe'): void;
  /**
   * True while the transport holds as many connections as it admits (newcomers
   * are refused): mesh upkeep then drops a link each round (see maintain).
   */
  full?(): boolean;
  disconnect(id: string): void;
}

export interface MeshClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /**
   * How late (ms) a timer may fire by design (timers aligned to a shared
   * grid): lateness within it is not starvation.
   */
  slackMs?: number;
  /**
   * The longest stall of this member's event loop (ms) that ended at or after
   * time `t`: while it ran behind, answers to its probes may have waited
   * unread. Without it only the lateness of the membership's own timers counts.
   */
  lagSince?(t: number): number;
  /**
   * The share (0..1) of roughly the last second this member's event loop spent
   * busy (performance.eventLoopUtilization()); above
   * MembershipOptions.saturatedUtilisation gossip is batched wider. Without it
   * the loop counts as never saturated (the simulation, most tests).
   */
  utilisation?(): number;
}

export interface RecordSigner {
  sign(bytes: Uint8Array): Uint8Array;
  verify(id: string, bytes: Uint8Array, sig: Uint8Array): boolean;
}

export interface MembershipEvents {
  /** A new version of a live member's record (`first`: it was not live before). */
  alive?(rec: SignedRecord, first: boolean): void;
  /** A live member left (its tombstone) or was confirmed dead. */
  gone?(id: string, reason: 'left' | 'dead', last: SignedRecord | undefined): void;
  /** A peer sent a record whose signature does not verify, or one over the size bound. */
  invalid?(from: string, why: string, kind: 'oversized' | 'signature'): void;
  /** A step of failure detection about a member (for timelines: when each step happened here). */
  failure?(id: string, step: FailureStep): void;
}

/**
 * `link-lost`: our link to it closed (not shed); `raised`: our own probe
 * failed and we suspect it; `suspected`: we heard another's suspicion first;
 * `confirmed`: our suspicion ran out and we declared it dead; `dead`: we heard
 * its death from another member.
 */
export type FailureStep = 'link-lost' | 'raised' | 'suspected' | 'confirmed' | 'dead';

export interface MembershipOptions {
  /** Links each member keeps (the mesh degree). */
  degree: number;
  /** Links above which the oldest extra ones are dropped. */
  maxLinks: number;
  /**
   * Links never exceeded, even for a moment (the plugin's bound on
   * connections, less room for a probe's dial): a new link past it first
   * makes room by dropping a link whose other side holds another, and when
   * none can go, the newcomer is referred to a few members (their records)
   * and unlinked. Infinity: no hard bound (the simulation's default).
   */
  linkCap: number;
  /**
   * New links one round of mesh upkeep dials at most. Every member dials
   * while under `degree` and every dial is also someone's inbound link, so
   * members that all dial their whole shortfall at once (a cluster start)
   * end up near twice the degree, and the extras are handshakes made only to
   * be dropped; a member that dials part of it lets inbound links fill the rest.
   */
  dialsPerRound: number;
  probeIntervalMs: number;
  probeTimeoutMs: number;
  indirectProbes: number;
  /** How long a suspicion may go unrefuted before the member is confirmed dead (the shortest, with Lifeguard). */
  suspicionMs: number;
  /** Lifeguard: local health, suspicion timeouts shrinking with confirmations, buddy system, small refutations. */
  lifeguard: boolean;
  /** Lifeguard: a suspicion with one suspector waits this many times suspicionMs. */
  suspicionMaxFactor: number;
  /** Lifeguard: independent confirmations after which a suspicion waits only suspicionMs. */
  suspicionConfirmations: number;
  /** Lifeguard: the highest local health score (probe interval and timeout scale by 1 + score). */
  maxLocalHealth: number;
  antiEntropyMs: number;
  /** Batching delay of forwarded gossip (0: at once). */
  batchMs: number;
  /**
   * While the clock's utilisation is above saturatedUtilisation, a flush of
   * records waits at least saturatedBatchMs (failure detection's gossip keeps
   * the plain window): a saturated start is CPU-bound, and each flush costs a
   * frame per link. 0: never wider than the burst window.
   */
  saturatedBatchMs: number;
  saturatedUtilisation: number;
  /** How long a death or tombstone is remembered. */
  tombstoneMs: number;
  /** A link younger than this is never dropped for being extra (a joiner's sync runs on it). */
  minLinkAgeMs: number;
  /**
   * Floods to a new link wait for its first digest exchange (what it carries
   * makes them duplicates), at most this long.
   */
  syncHoldMs: number;
  maxMembers: number;
  maxRecordBytes: number;
  /** Record bytes held in all (the directory); a new record past it is dropped. */
  maxDirectoryBytes: number;
  /** Largest batch of records in one message (by payload bytes). */
  maxMessageBytes: number;
}

export const DEFAULT_MEMBERSHIP: MembershipOptions = {
  degree: 4,
  maxLinks: 8,
  linkCap: Infinity,
  dialsPerRound: 2,
  probeIntervalMs: 1000,
  probeTimeoutMs: 1000,
  indirectProbes: 3,
  suspicionMs: 5000,
  lifeguard: true,
  suspicionMaxFactor: 3,
  suspicionConfirmations: 3,
  maxLocalHealth: 8,
  antiEntropyMs: 5000,
  batchMs: 20,
  saturatedBatchMs: 1000,
  saturatedUtilisation: 0.85,
  tombstoneMs: 300_000,
  minLinkAgeMs: 5000,
  syncHoldMs: 2000,
  maxMembers: 4096,
  maxRecordBytes: 4 * 1024 * 1024,
  maxDirectoryBytes: 64 * 1024 * 1024,
  maxMessageBytes: 512 * 1024,
};

/**
 * A member in our directory: the record we hold of it. Every member holds one
 * per member (the simulation's 10,000 members hold 10^8 of them), so an
 * entry keeps only what is its own (the record, and which links showed it to
 * us): what follows from the record alone (its
 * hash, its anti-entropy bucket) is memoized per record object
 * (recordHashes), the time a tombstone or a death was set is kept for those
 * alone (goneAt), a death or a tombstone is an entry of its own class
 * (DeadEntry), and only a suspected entry gets a `suspect` property.
 */
class Entry {
  /**
   * The links that sent us the version we hold (they hold it; see showed),
   * a bit each by the link's slot (Membership.linkSlots): one small integer
   * here rather than an entry per member in each link's map, which is left
   * for versions we do not hold and for links without a slot. A link's bit
   * is cleared when it goes (forgetLinkState).
   */
  shownBy = 0;
  /** Set while the member is suspected (declared only: the other entries carry no slot for it). */
  declare suspect?: Suspicion;

  constructor(readonly rec: SignedRecord) {}

  get version(): number {
    return this.rec.version;
  }

  get dead(): boolean {
    return false;
  }
}

/**
 * A member that left (its tombstone, dead at its own version) or was
 * confirmed dead, at its record's version or a later one (it refuted, and we
 * missed it).
 */
class DeadEntry extends Entry {
  constructor(
    rec: SignedRecord,
    private readonly deathVersion: number,
  ) {
    super(rec);
  }

  override get version(): number {
    return this.deathVersion;
  }

  override get dead(): boolean {
    return true;
  }
}

interface Suspicion {
  version: number;
  timer: unknown;
  /** When it was raised here. */
  start: number;
  /**
   * The earliest loss of a link to it that a suspector reported (Infinity:
   * none). The grace period counts from it once two suspectors lost theirs.
   */
  lostStart: number;
  /** We raised it (our probe failed): we re-probe before confirming. */
  raised: boolean;
  /** Distinct suspectors heard (bounded by suspicionConfirmations + 1). */
  by: Set<string>;
  /** Some suspector lost its connection to the member (see Death.lost). */
  lost: boolean;
  /** Distinct suspectors that lost their connection to it (bounded like `by`). */
  lostBy: Set<string>;
  /** We told the member itself (it spoke to us while suspected). */
  told?: boolean;
  /** Times our verdict waited for our own stalled loop to catch up (see behind). */
  waits: number;
}

/** A verdict waits at most this many probe timeouts for our own stalled loop (see behind). */
const MAX_VERDICT_WAITS = 2;

/** Links with a bit in the entries' `shownBy` (bits 0-30: a small integer). */
const LINK_SLOTS = 31;

/** The widest batching window under a burst of gossip, in multiples of batchMs. */
const BURST_BATCHES = 8;
/**
 * The widest window in a directory of more than LARGE_DIRECTORY members: at
 * 128 agents 16 (320 ms) gave fewer frames, less CPU and an earlier
 * convergence than 8; a small cluster keeps 8 (at 32 a start has ~6 flushes
 * per agent: no frames to save; bench/discovery/README.md, 2026-12-05 22:13).
 */
const LARGE_BURST_BATCHES = 16;
const LARGE_DIRECTORY = 64;

/**
 * Anti-entropy rounds skipped in a row because every link was busy, after
 * which the next round sends its digest anyway (to the link quiet longest):
 * a lost message heals within a few periods even while gossip never stops.
 */
const MAX_SKIPPED_ROUNDS = 2;

interface Outbox {
  records: Map<string, SignedRecord>;
  deaths: Map<string, Death>;
  suspects: Map<string, Death>;
  alives: Map<string, Alive>;
  bytes: number;
}

/** Counters for tests, benchmarks and the simulation. */
export interface MembershipCounters {
  duplicates: number;
  stale: number;
  invalid: number;
  dropped: number;
  suspicions: number;
  refutations: number;
  deaths: number;
  /** Suspicions this member raised itself (its own probe failed). */
  raised: number;
  /** Alive messages accepted (small refutations). */
  alives: number;
  /** Probes given up without a verdict: our own event loop stalled while they were out. */
  inconclusive: number;
  /** Gossip flushes armed (each a frame per link with gossip queued). */
  flushes: number;
  /** Of those, flushes armed at the saturated window (saturatedBatchMs). */
  saturatedFlushes: number;
  /** Links this member dropped for being extra (each a handshake some member made in vain). */
  shed: number;
  /** Times the other side dropped our only link (we had to dial again). */
  orphaned: number;
  /** Newcomers referred elsewhere and unlinked (we held linkCap links and none could go). */
  referred: number;
  /** Signatures checked (records and alives; each a new version to this member). */
  verified: number;
}

/**
 * Why a message was sent (counted per member in `sentFor`): on a new link
 * (our record, the smaller id's digest), anti-entropy (digests, their
 * answers, pulls and pushes), the batched flood (`flush`), failure detection
 * (probes, acks, ping-reqs, suspicions told), and link upkeep.
 */
export type SendReason =
  | 'link-record'
  | 'link-digest'
  | 'bootstrap-digest'
  | 'anti-entropy'
  | 'digest-answer'
  | 'digest-equal'
  | 'entries-pull'
  | 'entries-push'
  | 'pull-answer'
  | 'alive-pull'
  | 'correct'
  | 'flush'
  | 'farewell'
  | 'probe'
  | 'ack'
  | 'ping-req'
  | 'relay-ping'
  | 'relay-ack'
  | 'tell-suspect'
  | 'buddy'
  | 'refer'
  | 'room'
  | 'shed';

const LABEL = new TextEncoder().encode('nixl-ts/mesh-record/2');

/** SHA-256 of a payload (what a record's signature covers, and an alive carries). */
export function payloadDigest(payload: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(payload).digest());
}

/**
 * Payload digests by record, for the whole process: a record is immutable,
 * so its digest is computed once and shared by every member that holds the
 * same record object (members of one process handed the same record, as in
 * the simulation, where a per-member copy cost each member one 32-byte
 * array per directory entry, 265 bytes with its overhead).
 */
const recordDigests = new WeakMap<SignedRecord, Uint8Array>();

function recordDigest(rec: SignedRecord): Uint8Array {
  let d = recordDigests.get(rec);
  if (!d) recordDigests.set(rec, (d = payloadDigest(rec.payload)));
  return d;
}

/**
 * A record's entry hash when not dead (see entryHash; its bucket's summary
 * XORs in the first half) and its member's anti-entropy slot (a hash of the
 * id alone: the bucket is slot mod the bucket count), memoized per record object for the whole process like its
 * digest: members of one process holding the same record share them.
 */
interface RecordHashes {
  hash: [number, number];
  slot: number;
}

const recordHashMemo = new WeakMap<SignedRecord, RecordHashes>();

function recordHashes(rec: SignedRecord): RecordHashes {
  let h = recordHashMemo.get(rec);
  if (!h) {
    const hash = entryHash(rec.id, rec.version, false);
    h = { hash, slot: hash2(rec.id)[1] };
    recordHashMemo.set(rec, h);
  }
  return h;
}

/** An entry's hash: a dead entry's is computed (deaths are few), a live or left one's is its record's. */
function hashOf(e: Entry): [number, number] {
  return e.dead ? entryHash(e.rec.id, e.version, true) : recordHashes(e.rec).hash;
}

/** A member held live: neither dead nor left (its tombstone). */
function isLive(e: Entry | undefined): e is Entry {
  return !!e && !e.dead && !e.rec.left;
}

/** The bytes a record's signature covers (its payload by its SHA-256). */
export function signingBytes(
  id: string,
  version: number,
  left: boolean,
  payload: Uint8Array,
): Uint8Array {
  return signingBytesOf(id, version, left, payloadDigest(payload));
}

/** The bytes a record's (or an alive's) signature covers, given the payload's digest. */
export function signingBytesOf(
  id: string,
  version: number,
  left: boolean,
  digest: Uint8Array,
): Uint8Array {
  const idBytes = new TextEncoder().encode(id);
  const out = new Uint8Array(LABEL.length + 4 + idBytes.length + 8 + 1 + digest.length);
  const dv = new DataView(out.buffer);
  let o = 0;
  out.set(LABEL, o);
  o += LABEL.length;
  dv.setUint32(o, idBytes.length);
  o += 4;
  out.set(idBytes, o);
  o += idBytes.length;
  dv.setFloat64(o, version);
  o += 8;
  out[o++] = left ? 1 : 0;
  out.set(digest, o);
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Two independent 32-bit FNV-1a hashes of a string. */
function hash2(s: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x01000193 + 2) >>> 0;
  }
  return [a, b];
}

const entryHash = (id: string, version: number, dead: boolean) =>
  hash2(`${id}\u0000${version}\u0000${dead ? 1 : 0}`);

/** Most anti-entropy buckets a digest may carry (4 bytes each). */
const MAX_BUCKETS = 1024;

/** Buckets for a directory of `count` entries: about four entries each, a power of two. */
function bucketsFor(count: number): number {
  let b = 1;
  while (b * 4 < count && b < 256) b *= 2;
  return b;
}

export class Membership {
  readonly opts: MembershipOptions;
  private readonly entries = new Map<string, Entry>();
  /** When each dead or left member's entry was set (it expires tombstoneMs later). */
  private readonly goneAt = new Map<string, number>();
  private readonly links = new Map<string, number>();
  private readonly connecting = new Map<string, number>();
  private self: SignedRecord;
  private readonly selfSlot: number;
  private hx: [number, number] = [0, 0];
  /**
   * The entries' bucket summaries at the finest split a digest may carry
   * (MAX_BUCKETS; ourselves not included), kept as entries change: a digest
   * of b buckets (a power of two) folds them, whatever the directory's size.
   */
  private readonly fineBuckets = new Uint32Array(MAX_BUCKETS);
  private directoryBytes = 0;
  private readonly outboxes = new Map<string, Outbox>();
  private flushTimer: unknown;
  /** When the flush timer last fired, and the batching window's multiple of batchMs now. */
  private flushedAt = -Infinity;
  private burst = 1;
  /** When the armed flush fires, and when it would have without the saturated window. */
  private flushDue = Infinity;
  private plainDue = Infinity;
  private nonce = 1;
  private readonly probes = new Map<
    number,
    {
      target: string;
      timer: unknown;
      indirect: boolean;
      lost?: boolean;
      confirm?: number;
      due: number;
      retries: number;
      /** When the probe was sent: any frame from the target after it is an answer. */
      sent: number;
      /** A lost link's probe: when the link was lost (its suspicion counts from then). */
      lostAt?: number;
    }
  >();
  private readonly probing = new Set<string>();
  private readonly relays = new Map<
    number,
    {
      requester: string;
      nonce: number;
      timer: unknown;
      target: string;
    }
  >();
  /** Pings sent behind our tombstone (nonce → link): their acks prove the link read it. */
  private readonly farewells = new Map<number, string>();
  private probeCursor = 0;
  private timers: unknown[] = [];
  private stopped = false;
  /** How late our own timers fire (decaying maximum, ms): a starved event loop. */
  private lag = 0;
  /** Members whose link closed on us (not shed) within the last suspicion period, and when. */
  private readonly lostAt = new Map<string, number>();
  /** Links the other side said it is dropping (their loss is not a failure). */
  private readonly unlinked = new Set<string>();
  /** How many links each linked peer last said it holds (the `links` of its frames). */
  private readonly peerLinks = new Map<string, number>();
  /**
   * The link we joined through (our first, while we held none): while its
   * member is crowded it does not count towards the degree until we hold
   * `degree` others, and then we tell that member we can spare it.
   */
  private bootstrap?: string;
  /** Links whose first frame said we were their only link: joiners that came through us (a seed). */
  private readonly newcomers = new Set<string>();
  /**
   * Joiners we pointed to each of our links since it last said how many
   * links it holds (each may be one more link it holds by now): see pointToRoom.
   */
  private readonly pointed = new Map<string, number>();
  /** Members a link pointed us to (they have room): our next dials go to them first. */
  private roomAt: string[] = [];
  /**
   * New links whose first digest exchange has not happened yet, since when:
   * floods to them are held, and dropped if the exchange covers them.
   */
  private readonly syncing = new Map<string, number>();
  /** When each link last sent us anything (a frame proves its sender runs). */
  private readonly heard = new Map<string, number>();
  /**
   * When gossip last went either way over each link: the
   * periodic anti-entropy passes over a link busier than one period.
   */
  private readonly exchangedAt = new Map<string, number>();
  /** Anti-entropy rounds skipped in a row (every link busy; see MAX_SKIPPED_ROUNDS). */
  private skippedRounds = 0;
  /**
   * Per link, the highest version of each member it has sent us (it holds at
   * least that), beyond the entries' own `shownBy` (the links that sent the
   * version we hold, most of what links show).
   */
  private readonly shown = new Map<string, Map<string, number>>();
  /**
   * Each link's slot, its bit in the entries' `shownBy` (the first
   * LINK_SLOTS links; a link beyond has none, and what it shows goes to its
   * `shown` map), and the slots taken.
   */
  private readonly linkSlots = new Map<string, number>();
  private slotsTaken = 0;
  /** Per link, the corrections sent it (member → version and when): not repeated while in flight. */
  private readonly corrected = new Map<string, Map<string, { version: number; at: number }>>();
  /** Lifeguard's local health score: 0 healthy, up to maxLocalHealth (our probes fail, we get suspected). */
  private health = 0;
  /** Messages handed to the transport, by why they were sent (see SendReason). */
  readonly sentFor: Partial<Record<SendReason, number>> = {};
  readonly counters: MembershipCounters = {
    duplicates: 0,
    stale: 0,
    invalid: 0,
    dropped: 0,
    suspicions: 0,
    refutations: 0,
    deaths: 0,
    raised: 0,
    alives: 0,
    inconclusive: 0,
    flushes: 0,
    saturatedFlushes: 0,
    shed: 0,
    orphaned: 0,
    referred: 0,
    verified: 0,
  };

  constructor(
    readonly id: string,
    payload: Uint8Array,
    private readonly transport: MeshTransport,
    private readonly signer: RecordSigner,
    private readonly clock: MeshClock,
    private readonly events: MembershipEvents = {},
    opts: Partial<MembershipOptions> = {},
  ) {
    this.opts = { ...DEFAULT_MEMBERSHIP, ...opts };
    this.self = this.signRecord(1, false, payload);
    this.selfSlot = hash2(id)[1];
    this.xorIn(entryHash(id, 1, false));
  }

  /** Starts the periodic work (probes, anti-entropy, mesh upkeep, tombstone expiry). */
  start(): void {
    const every = (ms: number, fn: () => void) => {
      let due = 0;
      const arm = (delay: number) => {
        due = this.clock.now() + delay;
        this.timers.push(this.clock.setTimeout(loop, delay));
        if (this.timers.length > 64) this.timers.splice(0, this.timers.length - 8);
      };
      const loop = () => {
        if (this.stopped) return;
        this.lateness(due);
        fn();
        arm(ms * (0.75 + Math.random() * 0.5));
      };
      arm(ms * Math.random());
    };
    // The probe loop re-arms itself: its interval stretches with our local health score.
    const probeLoop = () => {
      if (this.stopped) return;
      this.probeNext();
      this.timers.push(this.clock.setTimeout(probeLoop, this.probeInterval()));
      if (this.timers.length > 64) this.timers.splice(0, this.timers.length - 8);
    };
    this.timers.push(this.clock.setTimeout(probeLoop, this.opts.probeIntervalMs * Math.random()));
    every(this.opts.antiEntropyMs, () => this.antiEntropy());
    every(Math.max(250, this.opts.probeIntervalMs), () => this.maintain());
    every(Math.max(1000, this.opts.tombstoneMs / 4), () => this.expire());
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) this.clock.clearTimeout(t);
    for (const p of this.probes.values()) this.clock.clearTimeout(p.timer);
    for (const r of this.relays.values()) this.clock.clearTimeout(r.timer);
    for (const e of this.entries.values()) if (e.suspect) this.clock.clearTimeout(e.suspect.timer);
    if (this.flushTimer !== undefined) this.clock.clearTimeout(this.flushTimer);
  }

  // ---- what the owner publishes ----

  get version(): number {
    return this.self.version;
  }

  get record(): SignedRecord {
    return this.self;
  }

  /** Publishes a new version of our record (new metadata, or a refutation with the same payload). */
  update(payload: Uint8Array = this.self.payload, left = false): void {
    const old = this.self;
    // Our tombstone is our last record: a refutation or an update published
    // while leaving would bring us back to life everywhere.
    if (old.left) return;
    const same = !left && !old.left && payload === old.payload;
    this.xorOut(entryHash(this.id, old.version, false));
    this.self = this.signRecord(old.version + 1, left, payload);
    this.xorIn(entryHash(this.id, this.self.version, false));
    // The same payload (a refutation) travels as a small alive with Lifeguard.
    if (same && this.opts.lifeguard) this.floodAlive(this.aliveOf(this.self), undefined);
    else this.floodRecord(this.self, undefined);
  }

  private aliveOf(rec: SignedRecord): Alive {
    return { id: rec.id, version: rec.version, digest: recordDigest(rec), sig: rec.sig };
  }

  /**
   * Publishes our tombstone and flushes it to every link at once, with a ping
   * behind it on the same stream: a link's ack proves it read the tombstone
   * (frames on a stream are handled in order), so the plugin stops once every
   * link has read it, not merely once it was written.
   */
  leave(): void {
    this.update(this.self.payload, true);
    this.flush(true);
    for (const link of this.links.keys()) {
      const nonce = this.nonce++;
      this.farewells.set(nonce, link);
      this.send(link, { kind: 'ping', nonce }, 'farewell');
    }
  }

  /** Links that have not yet confirmed reading our tombstone (see leave). */
  get unconfirmedLeave(): number {
    return this.farewells.size;
  }

  private signRecord(version: number, left: boolean, payload: Uint8Array): SignedRecord {
    const digest = payloadDigest(payload);
    const sig = this.signer.sign(signingBytesOf(this.id, version, left, digest));
    const rec = { id: this.id, version, left, payload, sig };
    recordDigests.set(rec, digest);
    return rec;
  }

  // ---- the view ----

  /** Live members' records (not ourselves). */
  *alive(): IterableIterator<SignedRecord> {
    for (const e of this.entries.values()) if (isLive(e)) yield e.rec;
  }

  get size(): number {
    return this.entries.size;
  }

  liveCount(): number {
    let n = 0;
    for (const e of this.entries.values()) if (isLive(e)) n++;
    return n;
  }

  linkIds(): string[] {
    return [...this.links.keys()];
  }

  recordOf(id: string): SignedRecord | undefined {
    const e = this.entries.get(id);
    return e && !e.dead ? e.rec : undefined;
  }

  /** A member we hold confirmed dead (not one that left). */
  isDead(id: string): boolean {
    return this.entries.get(id)?.dead === true;
  }

  isSuspect(id: string): boolean {
    return this.entries.get(id)?.suspect !== undefined;
  }

  /** The directory's summary, with its per-bucket summaries (what an anti-entropy digest carries). */
  digest(): { hash: string; count: number; buckets: Uint8Array } {
    const count = this.entries.size + 1;
    const b = bucketsFor(count);
    const out = new Uint8Array(4 * b);
    const dv = new DataView(out.buffer);
    const hashes = this.bucketHashes(b);
    for (let i = 0; i < hashes.length; i++) dv.setUint32(4 * i, hashes[i]!, true);
    return { ...this.summary(), buckets: out };
  }

  private summary(): { hash: string; count: number } {
    return {
      hash: this.hx[0].toString(16).padStart(8, '0') + this.hx[1].toString(16).padStart(8, '0'),
      count: this.entries.size + 1,
    };
  }

  /** Per bucket (by member id), the XOR of its entries' hashes, ourselves included. */
  private bucketHashes(b: number): Uint32Array {
    const out = new Uint32Array(b);
    out[this.selfSlot % b] ^= entryHash(this.id, this.self.version, false)[0];
    if (MAX_BUCKETS % b === 0) {
      for (let i = 0; i < MAX_BUCKETS; i++) out[i % b] ^= this.fineBuckets[i]!;
      return out;
    }
    // (A split that is not a power of two: a peer of its own making.)
    for (const e of this.entries.values()) out[recordHashes(e.rec).slot % b] ^= hashOf(e)[0];
    return out;
  }

  // ---- links ----

  /** A link holds (either side opened it); `sync: false` skips the digest exchange (the simulation's priming). */
  linkUp(id: string, sync = true): void {
    if (this.stopped || id === this.id) return;
    this.connecting.delete(id);
    this.lostAt.delete(id);
    if (!this.links.has(id)) {
      if (this.links.size >= this.opts.linkCap && !this.makeRoom()) return this.refer(id);
      if (!this.links.size && sync) this.bootstrap = id;
      this.links.set(id, this.clock.now());
      this.takeLinkSlot(id);
      if (sync) this.syncing.set(id, this.clock.now());
    }
    if (!sync) return;
    // Our own record goes first, unasked: for a joiner it is the one record
    // the other side cannot have, and the digest exchange below takes two or
    // three more messages to push it (each a turn of two busy event loops
    // during a cluster start); a duplicate is dropped unverified.
    this.send(
      id,
      { kind: 'gossip', records: [this.self], deaths: [], suspects: [] },
      'link-record',
    );
    // Anti-entropy on every new link: a joiner syncs the directory this way.
    // One side starts it (the smaller id), or both would push and pull everything twice.
    if (this.id < id) this.send(id, { kind: 'digest', ...this.digest() }, 'link-digest');
  }

  linkDown(id: string): void {
    const dropped = this.unlinked.delete(id);
    if (!this.links.delete(id)) return;
    this.forgetLinkState(id);
    for (const [nonce, link] of this.farewells) if (link === id) this.farewells.delete(nonce);
    if (this.stopped) return;
    // Dropped by the other side (shed, or we were referred elsewhere): not a
    // failure; links to the members we know replace it now, not a round later.
    if (dropped) return this.maintain();
    this.events.failure?.(id, 'link-lost');
    const e = this.entries.get(id);
    // A lost link is a failed direct probe: try the member through others at once.
    if (isLive(e)) {
      this.lostAt.set(id, this.clock.now());
      this.startProbe(id, true);
    }
    this.maintain();
  }

  /** Keeps `degree` links: connects to random live members, drops extra old links. */
  maintain(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    for (const [id, t] of this.connecting) if (now - t > 10_000) this.connecting.delete(id);
    for (const [id, t] of this.lostAt) if (now - t > this.opts.suspicionMs) this.lostAt.delete(id);
    for (const [id, t] of this.syncing) if (now - t >= this.opts.syncHoldMs) this.synced(id, false);
    // The link we joined through does not count, while its member holds more
    // than maxLinks (a crowded seed that will shed it), until `degree` others hold.
    const b = this.bootstrap;
    const crowded = b !== undefined && (this.peerLinks.get(b) ?? 0) > this.opts.maxLinks;
    const held = this.links.size - (crowded ? 1 : 0);
    const want = Math.min(this.opts.dialsPerRound, this.opts.degree - held - this.connecting.size);
    const pointed = this.roomAt;
    this.roomAt = [];
    if (want > 0) {
      const linkable = (id: string) => {
        const e = this.entries.get(id);
        if (!isLive(e) || e.suspect) return false;
        return id !== this.id && !this.links.has(id) && !this.connecting.has(id);
      };
      // Members we were pointed to first: they want a link too (one
      // handshake fills two members' shortfall), then random ones.
      let i = 0;
      for (const id of pointed) {
        if (i >= want) break;
        if (!linkable(id)) continue;
        this.connecting.set(id, now);
        this.transport.connect(id);
        i++;
      }
      const candidates: string[] = [];
      for (const id of this.entries.keys()) if (linkable(id)) candidates.push(id);
      for (; i < want && candidates.length; i++) {
        const k = Math.floor(Math.random() * candidates.length);
        const id = candidates[k]!;
        candidates[k] = candidates[candidates.length - 1]!;
        candidates.pop();
        this.connecting.set(id, now);
        this.transport.connect(id);
      }
    }
    // Joined and meshed: tell the member we joined through that we can spare
    // its link (an anti-entropy digest, which says how many links we hold);
    // it sheds the link if it holds too many (a seed every joiner came to).
    if (b !== undefined && (!this.links.has(b) || this.links.size > this.opts.degree)) {
      this.bootstrap = undefined;
      if (this.links.has(b)) this.send(b, { kind: 'digest', ...this.digest() }, 'bootstrap-digest');
    }
    // A joiner that came through us holds one of our few connection slots
    // (joiners are refused at accept while they are taken): it goes once it
    // holds another link, whatever its age, while we hold more than the degree.
    const released = this.links.size > this.opts.degree ? this.releaseJoined() : 0;
    // At the connection bound (connections the links do not account for, or
    // links that no newcomer displaced): one link a round goes, the one whose
    // other side holds the most links (two or more, never a member's last), or
    // joiners would be refused until a link closed by itself.
    if (!released && this.links.size > this.opts.degree && this.transport.full?.()) {
      const busiest = this.busiestLink(1, this.opts.minLinkAgeMs);
      if (busiest !== undefined) this.dropLink(busiest);
    }
    if (this.links.size > this.opts.maxLinks) {
      // Only links the other side can spare: it said it holds more than the
      // degree (a joiner whose only link this is would have to dial again, at
      // the busiest moment of a start; it says so once meshed, see above).
      const spare = [...this.links].filter(
        ([id, t]) =>
          now - t >= this.opts.minLinkAgeMs && (this.peerLinks.get(id) ?? 0) > this.opts.degree,
      );
      for (let n = this.links.size - this.opts.maxLinks; n > 0 && spare.length; n--) {
        const k = Math.floor(Math.random() * spare.length);
        this.dropLink(spare.splice(k, 1)[0]![0]);
      }
    }
  }

  /**
   * Drops the joiners that came through us once they hold another link and
   * have had their first digest exchange with us (they have the directory),
   * busiest first, down to the degree. Returns how many went.
   */
  private releaseJoined(): number {
    const spare: [string, number][] = [];
    for (const id of this.newcomers) {
      const theirs = this.peerLinks.get(id) ?? 0;
      if (theirs >= 2 && !this.syncing.has(id)) spare.push([id, theirs]);
    }
    spare.sort((a, b) => b[1] - a[1]);
    let dropped = 0;
    for (const [id] of spare) {
      if (this.links.size <= this.opts.degree) break;
      this.dropLink(id);
      dropped++;
    }
    return dropped;
  }

  /**
   * At the link cap: drops the link whose other side holds the most links,
   * more than the degree (it keeps the degree without dialing again, so no
   * cascade of dials; never a joiner's only link). False when none can go.
   */
  private makeRoom(): boolean {
    const busiest = this.busiestLink(this.opts.degree);
    if (busiest === undefined) return false;
    this.dropLink(busiest);
    return true;
  }

  /**
   * The link whose other side says it holds the most links, more than
   * `above`, among links at least `minAgeMs` old; undefined when none.
   */
  private busiestLink(above: number, minAgeMs = 0): string | undefined {
    const now = this.clock.now();
    let best: string | undefined;
    let most = above;
    for (const [id, t] of this.links) {
      const theirs = this.peerLinks.get(id) ?? 0;
      if (now - t >= minAgeMs && theirs > most) [best, most] = [id, theirs];
    }
    return best;
  }

  /**
   * A joiner's first frame (we are its only link: a seed, or the member it
   * was referred to): it gets the records of up to `dialsPerRound` of our
   * links that said they hold fewer than the degree (other joiners, fewest
   * links first), and dials them before random members. A link between two
   * members that each want one is one handshake where random dials make two
   * (each joiner dials its own, to a member that holds enough already and
   * ends with links it sheds or never needed). None with room: nothing is sent.
   */
  private pointToRoom(joiner: string): void {
    const room = this.roomFor(joiner, this.opts.dialsPerRound);
    if (!room.length) return;
    const records = room.map((r) => this.entries.get(r)!.rec!);
    this.send(joiner, { kind: 'gossip', records, deaths: [], suspects: [], room }, 'room');
  }

  /**
   * Up to `n` of our links (not `except`) that said they hold fewer than the
   * degree, counting the joiners we pointed to them since, and have had
   * their first digest exchange with us, fewest first; each one counts as
   * pointed to once more.
   */
  private roomFor(except: string, n: number): string[] {
    const room: [string, number][] = [];
    for (const id of this.links.keys()) {
      if (id === except || this.recordOf(id)?.left !== false) continue;
      // A link still in its first digest exchange with us lacks most of the
      // directory: a joiner linked to it would get from it what it gets
      // from us as well (two joiners syncing at once push each other the
      // records they both pull from us).
      if (this.syncing.has(id)) continue;
      const theirs = (this.peerLinks.get(id) ?? this.opts.degree) + (this.pointed.get(id) ?? 0);
      if (theirs < this.opts.degree) room.push([id, theirs]);
    }
    room.sort((a, b) => a[1] - b[1]);
    const out = room.slice(0, n).map(([id]) => id);
    for (const id of out) this.pointed.set(id, (this.pointed.get(id) ?? 0) + 1);
    return out;
  }

  /**
   * A newcomer we hold no room for: it gets our record, the records of our
   * links with room (see pointToRoom: it dials those first) and random live
   * members' records up to `degree` (where it can link instead), then the
   * unlink, and the connection is closed once they are written. Its sync
   * runs with the members it was referred to.
   */
  private refer(id: string): void {
    this.counters.referred++;
    const room = this.roomFor(id, this.opts.dialsPerRound);
    const others: SignedRecord[] = [];
    for (const rec of this.alive()) if (rec.id !== id && !room.includes(rec.id)) others.push(rec);
    const records = [this.self, ...room.map((r) => this.entries.get(r)!.rec!)];
    while (others.length && records.length <= this.opts.degree) {
      const k = Math.floor(Math.random() * others.length);
      records.push(others[k]!);
      others[k] = others[others.length - 1]!;
      others.pop();
    }
    this.send(id, { kind: 'gossip', records, deaths: [], suspects: [], room }, 'refer');
    this.send(id, { kind: 'unlink' }, 'refer');
    this.transport.disconnect(id);
  }

  /** Drops a link we do not need: what is queued goes first, then the unlink (not a failure). */
  private dropLink(id: string): void {
    this.counters.shed++;
    this.flushLink(id, true);
    this.send(id, { kind: 'unlink' }, 'shed');
    this.links.delete(id);
    this.forgetLinkState(id);
    this.transport.disconnect(id);
  }

  /** What we kept about a link that is gone (whichever side ended it). */
  private forgetLinkState(id: string): void {
    this.outboxes.delete(id);
    this.peerLinks.delete(id);
    this.newcomers.delete(id);
    this.pointed.delete(id);
    this.heard.delete(id);
    this.syncing.delete(id);
    this.exchangedAt.delete(id);
    this.shown.delete(id);
    const slot = this.linkSlots.get(id);
    if (slot !== undefined) {
      this.linkSlots.delete(id);
      this.slotsTaken &= ~(1 << slot);
      for (const e of this.entries.values()) e.shownBy &= ~(1 << slot);
    }
    this.corrected.delete(id);
    if (this.bootstrap === id) this.bootstrap = undefined;
  }

  /** Every frame says how many links we hold (the other side sheds only links we can spare). */
  private send(to: string, msg: MeshMessage, why: SendReason, dial = false): void {
    this.sentFor[why] = (this.sentFor[why] ?? 0) + 1;
    if (msg.kind === 'gossip') this.exchanged(to);
    this.transport.send(to, { ...msg, links: this.links.size }, dial ? { dial } : undefined);
  }

  // ---- receiving ----

  receive(from: string, msg: MeshMessage): void {
    if (this.stopped) return;
    if (this.links.has(from)) {
      this.heard.set(from, this.clock.now());
      const joiner = msg.links === 1 && !this.peerLinks.has(from);
      if (msg.links) {
        const theirs = Math.min(msg.links, this.opts.maxMembers);
        if (this.peerLinks.get(from) !== theirs) this.pointed.delete(from);
        this.peerLinks.set(from, theirs);
      }
      if (joiner) {
        this.newcomers.add(from);
        this.pointToRoom(from);
      }
    } else if (this.probing.has(from)) {
      // A member whose link we lost still speaks (e.g. its unlink came after
      // the close): it runs, which answers the lost link's probe.
      this.heard.set(from, this.clock.now());
    }
    // A member we suspect speaks to us (the transport authenticated it): it
    // may not know (a suspicion raised while it had no link that flooded it,
    // or one it missed), so it hears it from us, once, and refutes.
    const sus = this.entries.get(from)?.suspect;
    if (sus && !sus.told) {
      sus.told = true;
      const s = this.suspicionOf(from, sus, this.id, false);
      this.send(from, { kind: 'gossip', records: [], deaths: [], suspects: [s] }, 'tell-suspect');
    }
    if (
      msg.kind === 'gossip' &&
      (msg.records.length || msg.deaths.length || msg.suspects.length || msg.alives?.length)
    )
      this.exchanged(from);
    switch (msg.kind) {
      case 'gossip':
        this.onGossip(from, msg.records, msg.deaths, msg.suspects);
        for (const a of msg.alives ?? []) this.onAlive(from, a);
        // Pointed to members with room (by the member we joined through, or
        // one that referred us): wanted only while we want links ourselves.
        if (msg.room?.length && this.links.has(from) && this.links.size <= this.opts.degree)
          this.roomAt = msg.room.slice(0, this.opts.degree);
        return;
      case 'digest': {
        const mine = this.summary();
        const same = mine.hash === msg.hash && mine.count === msg.count;
        if (!same)
          this.send(from, { kind: 'entries', ...this.entriesFor(msg.buckets) }, 'digest-answer');
        // Equal directories on a new link: our digest tells the other side so,
        // or it would hold its floods to us until the hold expires.
        else if (this.syncing.has(from))
          this.send(from, { kind: 'digest', ...this.digest() }, 'digest-equal');
        // Equal directories, or ours listed in full: it has or pulls whatever we hold.
        return this.synced(from, true);
      }
      case 'entries':
        // We pushed whatever it lacked of what we hold, in the buckets it listed.
        return this.synced(from, this.onEntries(from, msg.entries, msg.buckets, msg.bucketCount));
      case 'pull':
        return this.onPull(from, msg.ids);
      case 'ping':
        return this.send(from, { kind: 'ack', nonce: msg.nonce }, 'ack');
      case 'ack':
        return this.onAck(msg.nonce);
      case 'ping-req':
        return this.onPingReq(from, msg.target, msg.nonce);
      case 'unlink':
        if (this.links.has(from) && this.links.size === 1) this.counters.orphaned++;
        if (this.links.has(from) && this.unlinked.size < 4 * this.opts.maxLinks)
          this.unlinked.add(from);
        return;
    }
  }

  private onGossip(from: string, records: SignedRecord[], deaths: Death[], suspects: Death[]) {
    for (const rec of records) this.onRecord(from, rec);
    for (const d of deaths) this.onDeath(from, d);
    for (const s of suspects) this.onSuspect(from, s);
  }

  private onRecord(from: string, rec: SignedRecord): void {
    if (rec.id === this.id) {
      // Someone holds an old version of ours that is marked dead, or a refutation raced.
      return;
    }
    const e = this.entries.get(rec.id);
    // The sender holds this version: what we queued for it up to there is a duplicate.
    this.heldBy(from, rec.id, rec.version);
    if (e && e.version >= rec.version) {
      if (e.version === rec.version) this.counters.duplicates++;
      else this.counters.stale++;
      return;
    }
    if (!e && this.entries.size >= this.opts.maxMembers) {
      this.counters.dropped++;
      return;
    }
    const grow = rec.payload.byteLength - (e?.rec?.payload.byteLength ?? 0);
    if (this.directoryBytes + grow > this.opts.maxDirectoryBytes) {
      this.counters.dropped++;
      return;
    }
    if (rec.payload.byteLength > this.opts.maxRecordBytes) {
      this.counters.invalid++;
      this.events.invalid?.(
        from,
        `record of ${rec.payload.byteLength} bytes (over the ${this.opts.maxRecordBytes}-byte bound)`,
        'oversized',
      );
      return;
    }
    const digest = recordDigest(rec);
    this.counters.verified++;
    if (
      !this.signer.verify(rec.id, signingBytesOf(rec.id, rec.version, rec.left, digest), rec.sig)
    ) {
      this.counters.invalid++;
      this.events.invalid?.(from, `record of ${rec.id} with a bad signature`, 'signature');
      return;
    }
    this.accept(from, rec, e, false);
    // Now a member we hold: the sender holds this version (see showed).
    this.showed(from, rec.id, rec.version);
  }

  /**
   * A new version of a record with the payload we hold (a refutation): the
   * record is rebuilt from it; one whose payload we lack is pulled from the sender.
   */
  private onAlive(from: string, a: Alive): void {
    if (a.id === this.id) return;
    const e = this.entries.get(a.id);
    this.heldBy(from, a.id, a.version);
    if (e && e.version >= a.version) {
      if (e.version === a.version) this.counters.duplicates++;
      else this.counters.stale++;
      return;
    }
    const held = e?.rec;
    if (!held || held.left || !equalBytes(recordDigest(held), a.digest)) {
      // Not the payload we hold (or none): the full record comes by a pull.
      this.send(from, { kind: 'pull', ids: [a.id] }, 'alive-pull');
      return;
    }
    this.counters.verified++;
    if (!this.signer.verify(a.id, signingBytesOf(a.id, a.version, false, a.digest), a.sig)) {
      this.counters.invalid++;
      this.events.invalid?.(from, `alive of ${a.id} with a bad signature`, 'signature');
      return;
    }
    const rec: SignedRecord = {
      id: a.id,
      version: a.version,
      left: false,
      payload: held.payload,
      sig: a.sig,
    };
    recordDigests.set(rec, recordDigest(held));
    this.counters.alives++;
    this.accept(from, rec, e, true);
  }

  /**
   * A link sent us version `version` of a member's record (or its alive, or
   * its death): it holds that much, so an older or equal version queued for
   * it is dropped unsent. During a start a member hears most records from
   * several links within one batching delay; each would otherwise go back.
   */
  private heldBy(link: string, id: string, version: number): void {
    this.showed(link, id, version);
    this.dropQueued(link, id, version);
  }

  /** What is queued for a link of a member's record or alive, up to `version`, is dropped unsent. */
  private dropQueued(link: string, id: string, version: number): void {
    const box = this.outboxes.get(link);
    if (!box) return;
    const r = box.records.get(id);
    if (r && r.version <= version) {
      box.records.delete(id);
      box.bytes -= r.payload.byteLength + 128;
    }
    const a = box.alives.get(id);
    if (a && a.version <= version) {
      box.alives.delete(id);
      box.bytes -= 128;
    }
  }

  private accept(from: string, rec: SignedRecord, e: Entry | undefined, asAlive: boolean): void {
    const wasLive = isLive(e);
    const last = e?.rec;
    // A tombstone is held as dead at its own version (as the digests list it).
    this.set(rec, rec.left ? rec.version : undefined);
    if (asAlive) this.floodAlive(this.aliveOf(rec), from);
    else this.floodRecord(rec, from);
    // A newer version of a member whose link we lost within the grace period
    // (its refutation, or its record, relayed by others) clears what we held
    // against it, but our evidence stands: it may have refuted before it died.
    // Probe it again through helpers. The member signed after our loss, so a
    // new suspicion is dated from now: dated from the loss, its deadline
    // would be near or past, and a slow member that refuted once would have
    // no time to refute again.
    if (this.lostAt.has(rec.id) && !rec.left && !this.links.has(rec.id))
      this.startProbe(rec.id, true);
    if (rec.left) {
      if (wasLive) this.events.gone?.(rec.id, 'left', last);
    } else if (!asAlive || !wasLive) this.events.alive?.(rec, !wasLive);
    // (A refutation of a live member changes nothing the plugin holds.)
  }

  private onDeath(from: string, d: Death): void {
    if (d.id === this.id) return this.refute(d.version);
    const e = this.entries.get(d.id);
    this.showed(from, d.id, d.version);
    const queued = this.outboxes.get(from)?.deaths.get(d.id);
    if (queued && queued.version <= d.version) this.outboxes.get(from)!.deaths.delete(d.id);
    // A death of a member we never knew is dropped: anyone can claim one, so it
    // must not take a directory slot (its record, if it comes, is probed like any).
    if (e && e.version > d.version) return this.correct(from, e);
    if (!e || (e.version === d.version && e.dead)) return;
    const wasLive = isLive(e);
    this.set(e.rec, d.version);
    this.counters.deaths++;
    this.events.failure?.(d.id, from === '' ? 'confirmed' : 'dead');
    this.queue(from, 'deaths', d, 64);
    // A death goes out at once, not after the batching delay (a crowded
    // member's is up to 10 batches): each hop of a flood would wait it.
    for (const link of this.links.keys()) if (link !== from) this.flushLink(link);
    if (wasLive) this.events.gone?.(d.id, 'dead', e.rec);
  }

  private onSuspect(from: string, s: Death): void {
    if (s.id === this.id) return this.refute(s.version);
    const e = this.entries.get(s.id);
    if (e && e.version > s.version) return this.correct(from, e);
    if (!isLive(e)) return;
    const lost = !!s.lost;
    // (Dated from the raiser's loss, never before a grace period ago: a peer's claim is bounded.)
    const age = lost ? Math.min(Math.max(0, s.lostMs ?? 0), this.opts.suspicionMs) : 0;
    const since = this.clock.now() - age;
    if (e.suspect) return this.confirmSuspicion(s.id, e, s.by || from, from, lost, since);
    this.suspect(s.id, e, from, s.by || from, lost, since);
  }

  /**
   * The sender suspects or declares dead an older version of a member we hold
   * a newer live version of (it refuted, and the sender missed it): the
   * sender gets the newer version at once, which clears its suspicion, rather
   * than after its verdict and an anti-entropy round.
   */
  private correct(from: string, e: Entry): void {
    if (!from || !isLive(e)) return;
    // The same correction sent it a probe timeout ago or less is still in
    // flight (it sends each suspector's suspicion, then the death: during a
    // start's refutations several arrive together); one read is enough.
    const now = this.clock.now();
    let sent = this.corrected.get(from);
    const last = sent?.get(e.rec.id);
    if (last && last.version >= e.version && now - last.at < this.probeTimeout()) return;
    if (this.links.has(from)) {
      if (!sent) this.corrected.set(from, (sent = new Map()));
      else if (sent.size >= this.opts.maxMembers && !sent.has(e.rec.id)) sent.clear();
      sent.set(e.rec.id, { version: e.version, at: now });
    }
    if (this.opts.lifeguard) {
      const alives = [this.aliveOf(e.rec)];
      this.send(from, { kind: 'gossip', records: [], deaths: [], suspects: [], alives }, 'correct');
    } else
      this.send(from, { kind: 'gossip', records: [e.rec], deaths: [], suspects: [] }, 'correct');
  }

  /** Someone thinks we are dead or suspect: a newer version of our record says otherwise. */
  private refute(version: number): void {
    if (version < this.self.version) return;
    this.counters.refutations++;
    // Being suspected hints that we are the slow one: probe more patiently.
    this.adjustHealth(+1);
    this.update();
  }

  /**
   * How long a suspicion waits before confirmation. Without Lifeguard: the
   * raiser `suspicionMs` (then it re-probes), the others twice that (the
   * raiser may have died too). With Lifeguard it starts at
   * `suspicionMaxFactor × suspicionMs` and shrinks with the logarithm of the
   * independent confirmations, to `suspicionMs` at `suspicionConfirmations`.
   */
  private suspicionTimeout(s: Suspicion): number {
    const min = this.opts.suspicionMs;
    // The others give the raiser time to re-probe and flood the death.
    const slack = s.raised ? 0 : 3 * this.probeTimeout();
    if (!this.opts.lifeguard) return s.raised ? min : 2 * min + slack;
    const max = this.opts.suspicionMaxFactor * min;
    const k = this.opts.suspicionConfirmations;
    // Two or more neighbours that each lost their connection to it: a crash
    // (every connection of a dead process closes at once), confirmed after the
    // shortest timeout. One lost link alone may be that link's own trouble (a
    // connection closed by its other end, a shed link whose notice came late):
    // it counts as one suspector, and the member has Lifeguard's long timeout
    // to refute.
    const c = s.lostBy.size >= 2 ? k : Math.min(k, s.by.size - 1);
    const t = max - ((max - min) * Math.log(c + 1)) / Math.log(k + 1);
    return Math.max(min, Math.floor(t)) + slack;
  }

  private armSuspicion(id: string, s: Suspicion): void {
    if (s.timer !== undefined) this.clock.clearTimeout(s.timer);
    // The raiser of a lost link's suspicion re-probes during the last probe
    // timeout of it, so its verdict falls at the deadline, not a probe later.
    const early = s.raised && s.lost ? this.probeTimeout(true) : 0;
    const from = s.lostBy.size >= 2 ? Math.min(s.start, s.lostStart) : s.start;
    const deadline = from + this.suspicionTimeout(s);
    const wait = Math.max(0, deadline - early - this.clock.now());
    let due = this.clock.now() + wait;
    const over = () => {
      const cur = this.entries.get(id);
      if (this.stopped || !cur || cur.dead || cur.suspect !== s || cur.version !== s.version)
        return;
      if (s.waits < MAX_VERDICT_WAITS && this.behind(due)) {
        s.waits++;
        due = this.clock.now() + this.opts.probeTimeoutMs;
        s.timer = this.clock.setTimeout(over, this.opts.probeTimeoutMs);
        return;
      }
      if (s.raised) return this.confirmProbe(id, s, deadline);
      cur.suspect = undefined;
      this.onDeath('', { id, version: s.version });
    };
    s.timer = this.clock.setTimeout(over, wait);
  }

  /**
   * Lifeguard: true when a verdict of ours due at `due` falls just after our
   * own event loop stalled (its timer fired late, or the loop stalled within
   * the last probe timeout), or while it is saturated. A stalled loop runs its
   * due timers before it reads what arrived meanwhile (Node's timers phase
   * comes before the poll phase), and the suspect's refutation or its answer
   * may be among that: the verdict waits a probe timeout for the loop to catch
   * up. A loop saturated by many short tasks (a start with dozens of agents in
   * one process) shows no timer lag, yet reads its sockets a turn at a time,
   * each turn long, some paused by the read meter: it waits the same way (a
   * live member was once confirmed dead by one such agent at 128).
   */
  private behind(due: number): boolean {
    if (!this.opts.lifeguard) return false;
    const now = this.clock.now();
    const half = this.opts.probeTimeoutMs / 2;
    if (now - due > half || this.saturated()) return true;
    return (this.clock.lagSince?.(now - this.opts.probeTimeoutMs) ?? 0) > half;
  }

  /**
   * Suspects a member. The member that raised the suspicion re-probes it when
   * its timeout is over and confirms the death only if that fails too (an
   * answer sends the suspicion to the member itself, which refutes it); the
   * others wait longer for that confirmation or the refutation, then confirm
   * on their own (the raiser may have died too).
   */
  private suspect(
    id: string,
    e: Entry,
    from: string | undefined,
    by: string,
    lost: boolean,
    since = this.clock.now(),
  ): void {
    this.counters.suspicions++;
    const raised = from === undefined;
    if (raised) this.counters.raised++;
    this.events.failure?.(id, raised ? 'raised' : 'suspected');
    const s: Suspicion = {
      version: e.version,
      timer: undefined,
      // Our own evidence dates it (a lost link: from the loss); another's
      // claim only counts once a second neighbour lost its link too.
      start: raised ? since : this.clock.now(),
      lostStart: lost ? since : Infinity,
      raised,
      by: new Set([by]),
      lost,
      lostBy: new Set(lost ? [by] : []),
      waits: 0,
    };
    e.suspect = s;
    this.armSuspicion(id, s);
    const msg = this.suspicionOf(id, s, by, lost);
    this.queue(from, 'suspects', msg, 96);
    // Buddy system: the suspect hears it from us at once, so it can refute
    // before the suspicion has spread far.
    if (raised && this.opts.lifeguard)
      this.send(id, { kind: 'gossip', records: [], deaths: [], suspects: [msg] }, 'buddy');
  }

  /** Another member's independent suspicion of one we suspect: the timeout shrinks. */
  private confirmSuspicion(
    id: string,
    e: Entry,
    by: string,
    from: string | undefined,
    lost: boolean,
    since = this.clock.now(),
  ): void {
    const s = e.suspect!;
    if (s.version !== e.version) return;
    // Our own probe of a lost link failed too: we confirm this one ourselves
    // (re-probe, then the death) from our own evidence, not only after the
    // slack a holder gives the raiser; several neighbours of a crashed member
    // so confirm it at once, each from its own loss.
    const bound = this.opts.suspicionConfirmations;
    if (by === this.id && lost && !(s.raised && s.lostBy.has(by))) {
      if (!s.raised) this.events.failure?.(id, 'raised');
      s.raised = true;
      s.start = Math.min(s.start, since);
      s.lostStart = Math.min(s.lostStart, since);
      s.lost = true;
      s.by.add(by);
      s.lostBy.add(by);
      this.armSuspicion(id, s);
      this.queue(from, 'suspects', this.suspicionOf(id, s, by, true), 96);
      return;
    }
    if (!this.opts.lifeguard) return;
    const news = !s.by.has(by) && s.by.size <= bound;
    const newLoss = lost && !s.lostBy.has(by) && s.lostBy.size <= bound;
    if (!news && !newLoss) return;
    if (news) s.by.add(by);
    if (newLoss) {
      s.lostBy.add(by);
      s.lostStart = Math.min(s.lostStart, since);
      s.lost = true;
    }
    this.armSuspicion(id, s);
    this.queue(from, 'suspects', this.suspicionOf(id, s, by, lost), 96);
  }

  /** A suspector's suspicion as sent: a lost one says how long ago the link was lost. */
  private suspicionOf(id: string, s: Suspicion, by: string, lost: boolean): Death {
    if (!lost || !s.lost) return { id, version: s.version, by, lost: false };
    const lostMs = Math.round(Math.max(0, this.clock.now() - s.lostStart));
    return { id, version: s.version, by, lost: true, lostMs };
  }

  /** The raiser's re-probe before the verdict: it ends no earlier than `deadline` (and our probe timeout). */
  private confirmProbe(target: string, s: Suspicion, deadline: number): void {
    const { version, lost } = s;
    const nonce = this.nonce++;
    const timeout = Math.max(this.probeTimeout(lost), deadline - this.clock.now());
    const probe = {
      target,
      indirect: true,
      lost,
      confirm: version,
      timer: undefined as unknown,
      due: this.clock.now() + timeout,
      retries: 0,
      sent: this.clock.now(),
    };
    this.probes.set(nonce, probe);
    this.askHelpers(target, nonce);
    if (this.links.has(target)) this.send(target, { kind: 'ping', nonce }, 'probe');
    // No link (it was lost): before declaring a death everywhere we dial the
    // member ourselves, once. A live member's handshake answers (its record
    // comes first on a new link), however busy the helpers' relays were; a
    // dead process's port refuses at once.
    else this.transport.connect(target, 'probe');
    const expire = () => {
      if ((this.heard.get(target) ?? -1) >= probe.sent) return this.probeAnswered(nonce);
      if (this.starved(probe.due) && probe.retries < 3) {
        probe.retries++;
        const t = this.probeTimeout(lost);
        probe.due = this.clock.now() + t;
        probe.timer = this.clock.setTimeout(expire, t);
        return;
      }
      // Our loop stalled while the re-probe was out: its answer may be unread.
      if (s.waits < MAX_VERDICT_WAITS && this.behind(probe.due)) {
        s.waits++;
        probe.due = this.clock.now() + this.opts.probeTimeoutMs;
        probe.timer = this.clock.setTimeout(expire, this.opts.probeTimeoutMs);
        return;
      }
      this.probes.delete(nonce);
      const cur = this.entries.get(target);
      if (this.stopped || !cur || cur.dead || cur.version !== version) return;
      cur.suspect = undefined;
      this.onDeath('', { id: target, version });
    };
    probe.timer = this.clock.setTimeout(expire, timeout);
  }

  /** Holds `rec` as the member's entry, dead at `deathVersion` when given (a death, a tombstone). */
  private set(rec: SignedRecord, deathVersion?: number): void {
    const old = this.entries.get(rec.id);
    this.directoryBytes += rec.payload.byteLength - (old?.rec.payload.byteLength ?? 0);
    if (old) {
      this.toggle(old);
      if (old.suspect) this.clock.clearTimeout(old.suspect.timer);
    }
    const e = deathVersion === undefined ? new Entry(rec) : new DeadEntry(rec, deathVersion);
    this.entries.set(rec.id, e);
    this.toggle(e);
    if (e.dead) this.goneAt.set(rec.id, this.clock.now());
    else this.goneAt.delete(rec.id);
  }

  /** XORs an entry's hash into the directory's summary and its bucket's (in, or out again). */
  private toggle(e: Entry): void {
    const h = hashOf(e);
    this.xorIn(h);
    this.fineBuckets[recordHashes(e.rec).slot % MAX_BUCKETS] ^= h[0];
  }

  private xorIn(h: [number, number]): void {
    this.hx = [(this.hx[0] ^ h[0]) >>> 0, (this.hx[1] ^ h[1]) >>> 0];
  }
  private xorOut(h: [number, number]): void {
    this.xorIn(h);
  }

  /**
   * The answer to a digest that differs from ours: the entries of the buckets
   * whose summaries differ (during a start most of a directory is the same on
   * both sides of a new link), or all of them when the digest has no buckets.
   */
  private entriesFor(theirBuckets: Uint8Array | undefined): {
    entries: DigestEntry[];
    buckets?: number[];
    bucketCount?: number;
  } {
    const n = theirBuckets?.byteLength ?? 0;
    const all = () => ({ entries: this.entryList(() => true) });
    if (!theirBuckets || !n || n % 4 || n > 4 * MAX_BUCKETS) return all();
    const b = n / 4;
    const dv = new DataView(theirBuckets.buffer, theirBuckets.byteOffset, n);
    const mine = this.bucketHashes(b);
    const differ: number[] = [];
    for (let i = 0; i < b; i++) if (mine[i] !== dv.getUint32(4 * i, true)) differ.push(i);
    // Only the count or the second hash differ (a collision in a bucket): everything.
    if (!differ.length) return all();
    const want = new Uint8Array(b);
    for (const i of differ) want[i] = 1;
    return {
      entries: this.entryList((slot) => want[slot % b] === 1),
      buckets: differ,
      bucketCount: b,
    };
  }

  private entryList(covers: (slot: number) => boolean): DigestEntry[] {
    const out: DigestEntry[] = [];
    if (covers(this.selfSlot)) out.push({ id: this.id, version: this.self.version, dead: false });
    for (const [id, e] of this.entries)
      if (covers(recordHashes(e.rec).slot)) out.push({ id, version: e.version, dead: e.dead });
    return out;
  }

  /**
   * The other side's entry list (of the buckets listed, or of the whole
   * directory): push what it lacks, pull what we lack.
   */
  private onEntries(
    from: string,
    list: DigestEntry[],
    buckets?: number[],
    bucketCount?: number,
  ): (slot: number) => boolean {
    let covers = (_slot: number) => true;
    if (buckets?.length && bucketCount && bucketCount <= MAX_BUCKETS) {
      const listed = new Uint8Array(bucketCount);
      for (const i of buckets.slice(0, MAX_BUCKETS)) if (i < bucketCount) listed[i] = 1;
      covers = (slot) => listed[slot % bucketCount] === 1;
    }
    const theirs = new Map<string, DigestEntry>();
    for (const x of list.slice(0, this.opts.maxMembers + 1)) theirs.set(x.id, x);
    const pull: string[] = [];
    for (const x of theirs.values()) {
      if (x.id === this.id) {
        if (x.dead && x.version >= this.self.version) this.refute(x.version);
        continue;
      }
      const e = this.entries.get(x.id);
      // Deaths of members we never knew are not pulled: expired tombstones stay expired.
      if (!e && x.dead) continue;
      if (!e || e.version < x.version || (e.version === x.version && x.dead && !e.dead))
        pull.push(x.id);
    }
    if (pull.length) this.send(from, { kind: 'pull', ids: pull }, 'entries-pull');
    const push: { records: SignedRecord[]; deaths: Death[] } = { records: [], deaths: [] };
    const t = theirs.get(this.id);
    if (covers(this.selfSlot) && (!t || t.version < this.self.version))
      push.records.push(this.self);
    for (const [id, e] of this.entries) {
      if (!covers(recordHashes(e.rec).slot)) continue;
      const x = theirs.get(id);
      if (x && (x.version > e.version || (x.version === e.version && (x.dead || !e.dead))))
        continue;
      if (!x && e.dead) continue;
      // It sent us this version (or a newer one) since its list was made.
      if (this.linkHolds(from, id, e)) continue;
      if (e.dead) push.deaths.push({ id, version: e.version });
      else if (e.rec) push.records.push(e.rec);
    }
    this.sendBatches(from, push.records, push.deaths, 'entries-push');
    return covers;
  }

  private onPull(from: string, ids: string[]): void {
    const records: SignedRecord[] = [];
    const deaths: Death[] = [];
    for (const id of ids.slice(0, this.opts.maxMembers + 1)) {
      if (id === this.id) {
        records.push(this.self);
        continue;
      }
      const e = this.entries.get(id);
      if (!e) continue;
      // The flood brought it this version (or a newer one) since it pulled.
      if (this.linkHolds(from, id, e)) continue;
      if (e.dead) deaths.push({ id, version: e.version });
      else if (e.rec) records.push(e.rec);
    }
    this.sendBatches(from, records, deaths, 'pull-answer');
  }

  /** Sends records in messages of at most maxMessageBytes of payload (one oversized record goes alone). */
  private sendBatches(
    to: string,
    records: SignedRecord[],
    deaths: Death[],
    why: 'entries-push' | 'pull-answer',
  ): void {
    let batch: SignedRecord[] = [];
    let bytes = 0;
    for (const r of records) {
      // Sent now: the same version waiting in its outbox would follow it as a duplicate.
      this.dropQueued(to, r.id, r.version);
      if (batch.length && bytes + r.payload.byteLength > this.opts.maxMessageBytes) {
        this.send(to, { kind: 'gossip', records: batch, deaths: [], suspects: [] }, why);
        batch = [];
        bytes = 0;
      }
      batch.push(r);
      bytes += r.payload.byteLength + 128;
    }
    if (batch.length || deaths.length)
      this.send(to, { kind: 'gossip', records: batch, deaths, suspects: [] }, why);
  }

  // ---- forwarding ----

  private floodRecord(rec: SignedRecord, except: string | undefined): void {
    for (const link of this.links.keys()) {
      if (link === except) continue;
      const box = this.outbox(link);
      box.records.set(rec.id, rec);
      box.bytes += rec.payload.byteLength + 128;
      // (A held outbox holds at most one record per member.)
      if (box.bytes > this.opts.maxMessageBytes && !this.syncing.has(link)) this.flushLink(link);
    }
    // Our own record (an update, or a refutation without Lifeguard) is not held
    // for a saturated window.
    this.scheduleFlush(rec.id === this.id);
  }

  /**
   * A new link's first digest exchange happened (`covered`: it has, or will
   * pull, every record and death we hold, so those held for it are dropped;
   * a function: only those in the buckets its entries list covered), or its
   * hold expired: what is held for it goes out. A bucket its list left out
   * was equal to our digest's, sent a round trip before: what we received
   * since in it was held for the link and is not in our push (dropping it
   * left the link without it until another path or anti-entropy brought it:
   * the simulation's long cold starts, 57-90 rounds against 21-41).
   */
  private synced(link: string, covered: boolean | ((slot: number) => boolean)): void {
    if (!this.syncing.delete(link)) return;
    const box = this.outboxes.get(link);
    if (!box) return;
    if (covered === true) {
      box.records.clear();
      box.deaths.clear();
      box.bytes = 96 * box.suspects.size + 128 * box.alives.size;
    } else if (covered) {
      // Only the buckets the exchange listed: what we received since our
      // digest in a bucket that was equal then still goes.
      for (const [id, r] of box.records) {
        if (!covered(recordHashes(r).slot)) continue;
        box.records.delete(id);
        box.bytes -= r.payload.byteLength + 128;
      }
      for (const [key, d] of box.deaths) {
        const e = this.entries.get(d.id);
        if (e && covered(recordHashes(e.rec).slot)) box.deaths.delete(key);
      }
    }
    this.scheduleFlush();
  }

  private floodAlive(a: Alive, except: string | undefined): void {
    for (const link of this.links.keys()) {
      if (link === except) continue;
      const box = this.outbox(link);
      const queued = box.records.get(a.id);
      if (queued && queued.version >= a.version) continue;
      box.alives.set(a.id, a);
      box.bytes += 128;
    }
    this.scheduleFlush(true);
  }

  private queue(except: string | undefined, kind: 'deaths' | 'suspects', d: Death, size: number) {
    for (const link of this.links.keys()) {
      if (link === except) continue;
      const box = this.outbox(link);
      box[kind].set(d.by === undefined ? d.id : `${d.id}\u0000${d.by}`, d);
      box.bytes += size;
    }
    this.scheduleFlush(true);
  }

  private outbox(link: string): Outbox {
    let b = this.outboxes.get(link);
    if (!b) {
      b = {
        records: new Map(),
        deaths: new Map(),
        suspects: new Map(),
        alives: new Map(),
        bytes: 0,
      };
      this.outboxes.set(link, b);
    }
    return b;
  }

  /**
   * Arms the flush of the outboxes (`urgent`: what was queued is failure
   * detection's, a refutation or our own record, and never waits for the
   * saturated window; one armed at it is brought forward).
   */
  private scheduleFlush(urgent = false): void {
    if (this.stopped) return;
    if (this.flushTimer !== undefined) {
      if (urgent && this.plainDue < this.flushDue) this.armFlush(this.plainDue);
      return;
    }
    // Each flush is a frame per link. A member with many links (a seed during
    // a start) batches longer, and so does one whose gossip comes in a burst
    // (a start, a storm): gossip queued again soon after a flush doubles the
    // window (up to BURST_BATCHES times batchMs, LARGE_BURST_BATCHES in a large
    // directory); a quiet spell resets it.
    const now = this.clock.now();
    const window = this.opts.batchMs * this.burst;
    const cap = this.entries.size > LARGE_DIRECTORY ? LARGE_BURST_BATCHES : BURST_BATCHES;
    this.burst = now - this.flushedAt < 2 * window ? Math.min(this.burst * 2, cap) : 1;
    const crowd = Math.min(Math.ceil(this.links.size / this.opts.maxLinks), 10);
    const delay = this.opts.batchMs * Math.max(this.burst, crowd);
    this.counters.flushes++;
    this.plainDue = now + delay;
    // A saturated loop (a start with many agents per process) is CPU-bound:
    // the window starts wide, whatever the burst, so that a flood's waves
    // share frames; the doubling above would reset on every short lull. Only
    // in a large directory: a small one has few flushes to save, and there
    // each wide flush was a second more per hop (mDNS at 32 agents, whose
    // groups formed apart merge by floods: 3 of 3 pairs later).
    if (
      !urgent &&
      this.entries.size > LARGE_DIRECTORY &&
      delay < this.opts.saturatedBatchMs &&
      this.saturated()
    ) {
      this.counters.saturatedFlushes++;
      this.armFlush(now + this.opts.saturatedBatchMs);
    } else this.armFlush(this.plainDue);
  }

  private armFlush(due: number): void {
    if (this.flushTimer !== undefined) this.clock.clearTimeout(this.flushTimer);
    this.flushDue = due;
    this.flushTimer = this.clock.setTimeout(
      () => {
        this.flushTimer = undefined;
        this.flushDue = this.plainDue = Infinity;
        this.flushedAt = this.clock.now();
        this.flush();
      },
      Math.max(0, due - this.clock.now()),
    );
  }

  /** Our event loop has been busy above saturatedUtilisation lately (see MeshClock.utilisation). */
  private saturated(): boolean {
    return (this.clock.utilisation?.() ?? 0) > this.opts.saturatedUtilisation;
  }

  /** Sends what is queued for every link (`force`: also links still syncing, e.g. a tombstone). */
  flush(force = false): void {
    for (const link of [...this.outboxes.keys()]) this.flushLink(link, force);
  }

  private flushLink(link: string, force = false): void {
    const b = this.outboxes.get(link);
    if (!b || (!force && this.syncing.has(link))) return;
    this.outboxes.delete(link);
    if (!b.records.size && !b.deaths.size && !b.suspects.size && !b.alives.size) return;
    this.send(
      link,
      {
        kind: 'gossip',
        records: [...b.records.values()],
        deaths: [...b.deaths.values()],
        suspects: [...b.suspects.values()],
        alives: [...b.alives.values()].filter(
          (a) => (b.records.get(a.id)?.version ?? -1) < a.version,
        ),
      },
      'flush',
    );
  }

  // ---- failure detection ----

  /**
   * How late (ms) a timer armed for `due` fired, beyond the clock's slack by
   * design; it goes into our own starvation estimate (`lag`).
   */
  private lateness(due: number): number {
    const late = this.clock.now() - due - (this.clock.slackMs ?? 0);
    this.lag = Math.max(Math.max(0, late), this.lag * 0.7);
    return late;
  }

  /**
   * The probe timeout, stretched by how starved our own event loop is (a
   * late answer read late is not a dead member): Lifeguard's local health.
   * For a lost link (`lost`) at most a quarter of the suspicion period: its
   * suspicion counts from the loss, so the probe and the re-probe before the
   * verdict must both fit in it (a timer of ours that fires late still waits
   * again, probeTimedOut, so our own stalls stay covered).
   */
  private probeTimeout(lost = false): number {
    const base = this.opts.probeTimeoutMs * (1 + this.health);
    const t = Math.min(10 * this.opts.probeTimeoutMs, base + 4 * this.lag);
    if (!lost) return t;
    return Math.min(t, Math.max(this.opts.probeTimeoutMs, this.opts.suspicionMs / 4));
  }

  /** Lifeguard: the probe interval stretches with the local health score. */
  private probeInterval(): number {
    const t = this.opts.probeIntervalMs * (1 + this.health);
    return t * (0.75 + Math.random() * 0.5);
  }

  /** Lifeguard's local health: up when our probes fail or we are suspected, down when a probe succeeds. */
  private adjustHealth(delta: number): void {
    if (!this.opts.lifeguard) return;
    this.health = Math.max(0, Math.min(this.opts.maxLocalHealth, this.health + delta));
  }

  /** The local health score (0: healthy). */
  get localHealth(): number {
    return this.health;
  }

  /**
   * Lifeguard: true when our event loop stalled, since `t`, for longer than
   * half a probe timeout (local health applied to our own measured lag).
   */
  private stalledSince(t: number): boolean {
    if (!this.opts.lifeguard) return false;
    return (this.clock.lagSince?.(t) ?? 0) > this.opts.probeTimeoutMs / 2;
  }

  /** True when a timer armed for `due` fired so late that what it timed is inconclusive. */
  private starved(due: number): boolean {
    return this.lateness(due) > this.opts.probeTimeoutMs / 2;
  }

  private probeNext(): void {
    const ids = [...this.links.keys()];
    if (!ids.length) return;
    const id = ids[this.probeCursor++ % ids.length]!;
    const e = this.entries.get(id);
    if (!isLive(e) || e.suspect) return;
    // Still syncing the directory from our first link: probing can wait.
    if (this.bootstrap !== undefined && this.syncing.has(this.bootstrap)) return;
    // It sent us something within the last period: it runs, no ping needed.
    if (this.clock.now() - (this.heard.get(id) ?? -Infinity) < this.opts.probeIntervalMs) return;
    this.startProbe(id, false);
  }

  private startProbe(target: string, lost: boolean, lostAt = this.clock.now()): void {
    // A routine probe of a member whose link is then lost gives way to the
    // lost link's probe (its evidence and its deadline are the loss's).
    if (lost && this.probing.has(target)) {
      for (const [nonce, p] of this.probes) {
        if (p.target !== target || p.lost || p.confirm !== undefined) continue;
        this.clock.clearTimeout(p.timer);
        this.probes.delete(nonce);
        this.probing.delete(target);
      }
    }
    if (this.probing.has(target) || this.probes.size >= 4 * this.opts.maxLinks) return;
    this.probing.add(target);
    const nonce = this.nonce++;
    const timeout = this.probeTimeout(lost);
    const probe = {
      target,
      indirect: lost,
      lost,
      timer: undefined as unknown,
      due: this.clock.now() + timeout,
      retries: 0,
      sent: this.clock.now(),
      lostAt,
    };
    this.probes.set(nonce, probe);
    if (lost) this.askHelpers(target, nonce);
    // A lost link is not redialed for the probe: the helpers try it.
    else this.send(target, { kind: 'ping', nonce }, 'probe');
    probe.timer = this.clock.setTimeout(() => this.probeTimedOut(nonce), timeout);
  }

  private askHelpers(target: string, nonce: number): number {
    const helpers = [...this.links.keys()].filter((l) => l !== target);
    let asked = 0;
    while (helpers.length && asked < this.opts.indirectProbes) {
      const k = Math.floor(Math.random() * helpers.length);
      const h = helpers.splice(k, 1)[0]!;
      this.send(h, { kind: 'ping-req', target, nonce }, 'ping-req');
      asked++;
    }
    return asked;
  }

  private probeTimedOut(nonce: number): void {
    const p = this.probes.get(nonce);
    if (!p || this.stopped) return;
    const rearm = () => {
      const timeout = this.probeTimeout(!!p.lost);
      p.due = this.clock.now() + timeout;
      p.timer = this.clock.setTimeout(() => this.probeTimedOut(nonce), timeout);
    };
    // The target sent us something since the probe went out: it runs.
    if ((this.heard.get(p.target) ?? -1) >= p.sent) return this.probeAnswered(nonce);
    // Our own loop was behind (this timer fired late, or it stalled while the
    // probe was out): the answer may be waiting unread, so the silence says
    // nothing about the target. Wait again; a routine probe that never gets a
    // fair chance is given up without a verdict (a lost link's is not: the
    // kernel reset it, and a crash must be confirmed in time).
    const late = this.starved(p.due);
    if (late || (!p.lost && this.stalledSince(p.sent))) {
      if (p.retries < 3) {
        p.retries++;
        return rearm();
      }
      if (!p.lost) {
        this.probes.delete(nonce);
        this.probeDone(p.target);
        this.counters.inconclusive++;
        return;
      }
    }
    if (!p.indirect) {
      p.indirect = true;
      this.askHelpers(p.target, nonce);
      if (this.links.has(p.target)) this.send(p.target, { kind: 'ping', nonce }, 'probe');
      return rearm();
    }
    this.probes.delete(nonce);
    this.probeDone(p.target);
    // A failed probe may be our own slowness as much as the target's.
    this.adjustHealth(+1);
    const e = this.entries.get(p.target);
    if (!isLive(e)) return;
    // Already suspected by another: ours is an independent confirmation.
    // A lost link's suspicion counts from the loss (the first evidence): the
    // grace period is the member's time to refute, not a wait after our probe.
    const since = p.lost ? (p.lostAt ?? p.sent) : this.clock.now();
    if (e.suspect) this.confirmSuspicion(p.target, e, this.id, undefined, !!p.lost, since);
    else this.suspect(p.target, e, undefined, this.id, !!p.lost, since);
  }

  /** A probe of the member is over; what we heard from it without a link is forgotten. */
  private probeDone(target: string): void {
    this.probing.delete(target);
    if (!this.links.has(target)) this.heard.delete(target);
  }

  private onAck(nonce: number): void {
    if (this.farewells.delete(nonce)) return;
    const relay = this.relays.get(nonce);
    if (relay) {
      this.relays.delete(nonce);
      this.clock.clearTimeout(relay.timer);
      this.send(relay.requester, { kind: 'ack', nonce: relay.nonce }, 'relay-ack');
      return;
    }
    this.probeAnswered(nonce);
  }

  /** A probe's target answered (an ack, or any frame from it since the probe went out). */
  private probeAnswered(nonce: number): void {
    const p = this.probes.get(nonce);
    if (!p) return;
    this.probes.delete(nonce);
    this.clock.clearTimeout(p.timer);
    if (p.confirm !== undefined) {
      // Alive after all: tell it it is suspected, so it refutes everywhere.
      const e = this.entries.get(p.target);
      if (e?.suspect) e.suspect = undefined;
      const s = { id: p.target, version: p.confirm };
      this.send(p.target, { kind: 'gossip', records: [], deaths: [], suspects: [s] }, 'buddy');
      return;
    }
    this.probeDone(p.target);
    this.adjustHealth(-1);
  }

  /**
   * Our own connection bound had no slot for a link to the member: the next
   * round of upkeep picks again (maybe another member) instead of waiting
   * out the dial's 10 s.
   */
  linkRefused(id: string): void {
    this.connecting.delete(id);
  }

  /**
   * Nothing listens at the member's addresses: our dial was refused at every
   * one. A crashed process whose lost links were all read as life (or never
   * probed) stays in the directory with no link from anyone, and nobody
   * probes a member without a link; upkeep still dials it, so the refusal
   * starts a lost link's probe: through our helpers, then a suspicion, which
   * a live member refutes.
   */
  unreachable(id: string): void {
    this.connecting.delete(id);
    const e = this.entries.get(id);
    if (this.stopped || !isLive(e) || e.suspect) return;
    if (this.links.has(id)) return;
    this.startProbe(id, true);
  }

  /** True while a probe of the member, or a relay for one, waits for a sign of its life. */
  awaitsAnswer(id: string): boolean {
    for (const p of this.probes.values()) if (p.target === id) return true;
    for (const r of this.relays.values()) if (r.target === id) return true;
    return false;
  }

  /**
   * Our dial of the member was refused by its running process (at its
   * connection bound): proof of life, as good as an ack. Probes of it are
   * answered, and relays for it ack their requesters.
   */
  refusedByLive(id: string): void {
    if (this.stopped) return;
    for (const [nonce, p] of [...this.probes]) if (p.target === id) this.probeAnswered(nonce);
    for (const [mine, r] of [...this.relays]) {
      if (r.target !== id) continue;
      this.relays.delete(mine);
      this.clock.clearTimeout(r.timer);
      this.send(r.requester, { kind: 'ack', nonce: r.nonce }, 'relay-ack');
    }
  }

  private onPingReq(from: string, target: string, nonce: number): void {
    if (this.relays.size >= 16 * this.opts.maxLinks) return;
    const mine = this.nonce++;
    this.relays.set(mine, {
      requester: from,
      nonce,
      target,
      // As long as the longest probe timeout: a relay that had to dial (a
      // handshake on a busy host) still answers the requester's probe.
      timer: this.clock.setTimeout(() => this.relays.delete(mine), 10 * this.opts.probeTimeoutMs),
    });
    // A helper may hold no connection to the target: SWIM's indirect probe connects.
    this.send(target, { kind: 'ping', nonce: mine }, 'relay-ping', !this.links.has(target));
  }

  // ---- upkeep ----

  /**
   * The periodic digest, to a random quiet link: one with no gossip either
   * way for a period. While every link is busy (a start floods them
   * all) the round is skipped, at most MAX_SKIPPED_ROUNDS in a row; then the
   * link quiet longest gets it.
   */
  private antiEntropy(): void {
    if (!this.links.size) return;
    const now = this.clock.now();
    const quiet: string[] = [];
    let oldest: string | undefined;
    let oldestAt = Infinity;
    for (const id of this.links.keys()) {
      const at = this.exchangedAt.get(id) ?? -Infinity;
      if (now - at >= this.opts.antiEntropyMs) quiet.push(id);
      if (at < oldestAt) [oldest, oldestAt] = [id, at];
    }
    let id: string | undefined;
    if (quiet.length) id = quiet[Math.floor(Math.random() * quiet.length)];
    else if (this.skippedRounds >= MAX_SKIPPED_ROUNDS) id = oldest;
    if (id === undefined) {
      this.skippedRounds++;
      return;
    }
    this.skippedRounds = 0;
    this.send(id, { kind: 'digest', ...this.digest() }, 'anti-entropy');
  }

  /**
   * Gossip went either way over a link (a digest does not count: each side
   * keeps its own period on a quiet link, so a lost message heals as fast as before).
   */
  private exchanged(link: string): void {
    if (this.links.has(link)) this.exchangedAt.set(link, this.clock.now());
  }

  /**
   * A link sent us version `version` of a member (a record, an alive, a
   * death): it holds that much. Only members we hold count (a frame can name
   * any id before its record is checked), and a link's map is cleared at
   * `maxMembers` ids (members come and go over a long-lived link): it only
   * spares duplicates, so forgetting costs a resend at most.
   */
  private showed(link: string, id: string, version: number): void {
    const e = this.entries.get(id);
    if (!this.links.has(link) || !e) return;
    // (A new version of the entry starts with none: the link that sent it is recorded after.)
    const bit = this.linkBit(link);
    if (version === e.version && bit) {
      e.shownBy |= bit;
      return;
    }
    let held = this.shown.get(link);
    if (!held) this.shown.set(link, (held = new Map()));
    else if (held.size >= this.opts.maxMembers && !held.has(id)) held.clear();
    if ((held.get(id) ?? -1) < version) held.set(id, version);
  }

  /**
   * A link has sent us what we hold of a member, or newer (see showed): a
   * newer version, or the same one unless ours is its death (what it sent
   * at that version may have been the record the death ends).
   */
  private linkHolds(link: string, id: string, e: Entry): boolean {
    const mapped = this.shown.get(link)?.get(id) ?? -1;
    const shown = e.shownBy & this.linkBit(link) ? Math.max(mapped, e.version) : mapped;
    return shown > e.version || (shown === e.version && !e.dead);
  }

  /** A new link takes the lowest free slot (see linkSlots), if one is left. */
  private takeLinkSlot(link: string): void {
    for (let slot = 0; slot < LINK_SLOTS; slot++) {
      if (this.slotsTaken & (1 << slot)) continue;
      this.slotsTaken |= 1 << slot;
      this.linkSlots.set(link, slot);
      return;
    }
  }

  /** The link's bit in the entries' `shownBy` (0: it has no slot). */
  private linkBit(link: string): number {
    const slot = this.linkSlots.get(link);
    return slot === undefined ? 0 : 1 << slot;
  }

  /** Forgets deaths and tombstones older than tombstoneMs. */
  private expire(): void {
    const now = this.clock.now();
    for (const [id, at] of this.goneAt) {
      if (now - at <= this.opts.tombstoneMs) continue;
      const e = this.entries.get(id)!;
      this.toggle(e);
      this.directoryBytes -= e.rec.payload.byteLength;
      this.entries.delete(id);
      this.goneAt.delete(id);
    }
  }
}
