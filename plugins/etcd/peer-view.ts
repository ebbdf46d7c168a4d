/**
 * What this agent knows of its peers through etcd, and how key changes become
 * metadata loads: a peer's `metadata` key loads its full metadata (peer:join,
 * or peer:update when it changed); an `update` key written in the same
 * transaction loads as partial metadata instead, when this view came from the
 * metadata one of the updates of its chain was made on (update.ts): the
 * regions of that update and the later ones are added, and the requests
 * prepared for the peer stay valid; a deleted `metadata` key (the peer closed,
 * withdrew, or its lease expired) invalidates the peer (peer:leave).
 *
 * A value equal to the one the peer's state came from (its SHA-256) is not
 * loaded again: a peer re-publishing the same metadata after an etcd restart
 * does not start a new generation on its peers. Values over the size bound,
 * values naming another agent and values that do not load are refused with a
 * discovery:error; nothing else changes.
 */
import { setNewest } from '../../src/bounded-map.js';
import type { DiscoveryHost } from '../../src/discovery.js';
import { MismatchError, NixlError, NotAllowedError } from '../../src/errors.js';
import { decodeMetadataHeader } from '../../src/metadata.js';
import { METADATA_LABEL, UPDATE_LABEL } from './keys.js';
import { decodeUpdate, metadataDigest } from './update.js';

interface PeerRecord {
  /** SHA-256 of the `metadata` value the agent's view of the peer equals, if any. */
  digest?: string;
  /** True once metadata of the peer loaded through this view (peer:join was emitted). */
  loaded: boolean;
  /** The namespace read that last saw it (see beginSync). */
  seen: number;
}

/** The changes of one peer at one etcd revision (one transaction). */
export interface PeerChange {
  agent: string;
  metadata?: Uint8Array;
  update?: Uint8Array;
  deleted?: boolean;
}

/** Reports emitted at once, then one per REPORT_INTERVAL_MS; the rest are counted. */
const REPORT_BURST = 16;
const REPORT_INTERVAL_MS = 1000;

export interface PeerViewStats {
  /** Peers tracked (loaded, or being loaded). */
  peers: number;
  /** Agent names whose value was refused, remembered so that it is not evaluated again. */
  refused: number;
  /** discovery:error reports not emitted (over the rate). */
  errorsSuppressed: number;
}

export class PeerView {
  readonly #peers = new Map<string, PeerRecord>();
  /**
   * Names whose value was refused before they ever loaded: the digest, so the
   * same value is not decoded again; at most maxPeers, the oldest forgotten.
   */
  readonly #refused = new Map<string, { digest: string; seen: number }>();
  readonly #host: DiscoveryHost;
  readonly #maxValueBytes: number;
  readonly #maxPeers: number;
  /** Events held while the agent is being created (see hold). */
  #held: (() => void)[] | undefined;
  #epoch = 0;
  #reportTokens = REPORT_BURST;
  #reportRefill = performance.now();
  #suppressed = 0;
  #suppressedTotal = 0;

  constructor(host: DiscoveryHost, maxValueBytes: number, maxPeers: number) {
    this.#host = host;
    this.#maxValueBytes = maxValueBytes;
    this.#maxPeers = maxPeers;
  }

  /**
   * Holds peer events and errors until release(): those of the first read
   * happen inside Agent.create, before its caller can listen.
   */
  hold(): void {
    this.#held ??= [];
  }

  /** Emits what was held (the caller defers this past Agent.create), then emits as it goes. */
  release(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const emit of held) emit();
  }

  #emit(emit: () => void): void {
    if (this.#held) this.#held.push(emit);
    else emit();
  }

  /** Agents whose metadata this view loaded. */
  loaded(): string[] {
    return [...this.#peers].filter(([, r]) => r.loaded).map(([a]) => a);
  }

  stats(): PeerViewStats {
    return {
      peers: this.#peers.size,
      refused: this.#refused.size,
      errorsSuppressed: this.#suppressedTotal,
    };
  }

  /**
   * A read of the whole namespace at one revision starts: each agent of it
   * comes to apply() as it is read (one agent's keys at a time, so a read
   * holds no more than a page of values), then endSync() forgets the peers
   * the read did not see.
   */
  beginSync(): void {
    this.#epoch++;
  }

  endSync(): void {
    for (const [agent, rec] of [...this.#peers]) {
      if (rec.seen !== this.#epoch) this.remove(agent, 'its keys are gone from etcd');
    }
    for (const [agent, r] of [...this.#refused]) {
      if (r.seen !== this.#epoch) this.#refused.delete(agent);
    }
  }

  /** One peer's changes at one revision (from the watch, or a re-read). */
  apply(c: PeerChange): void {
    const seen = this.#peers.get(c.agent);
    if (seen) seen.seen = this.#epoch;
    if (c.deleted) return this.remove(c.agent, 'its metadata key was deleted (closed or expired)');
    if (c.update && c.metadata && this.#peers.get(c.agent)?.loaded) {
      const res = this.#loadPartial(c.agent, c.update, c.metadata);
      if (res === undefined) return;
      // Not on top of this view (a change was missed), or refused: the full
      // metadata of the same transaction holds the same regions.
      if (res !== 'stale') this.report(res);
    }
    if (c.metadata) this.report(this.putMetadata(c.agent, c.metadata));
  }

  /**
   * Loads a peer's full metadata unless the view already equals it; returns
   * the error that refused it, if any (reported by the caller: a watch emits
   * it, a fetch throws it).
   */
  putMetadata(agent: string, value: Uint8Array): NixlError | undefined {
    const digest = metadataDigest(value);
    let rec = this.#peers.get(agent);
    if (rec) {
      rec.seen = this.#epoch;
      if (rec.digest === digest && (!rec.loaded || this.#host.checkRemoteMD(agent)))
        return undefined;
    } else {
      const refused = this.#refused.get(agent);
      if (refused?.digest === digest) {
        refused.seen = this.#epoch;
        return undefined;
      }
      if (this.#peers.size >= this.#maxPeers) {
        this.#remember(agent, digest);
        return new NotAllowedError(
          `etcd: ${this.#peers.size} peers are loaded already (maxPeers); '${agent}' ignored`,
          { op: 'discovery', agent },
        );
      }
    }
    const err = this.#check(agent, METADATA_LABEL, value) ?? this.#load(agent, value);
    if (err && !rec) {
      this.#remember(agent, digest);
      return err;
    }
    rec ??= { loaded: false, seen: this.#epoch };
    this.#peers.set(agent, rec);
    this.#refused.delete(agent);
    rec.digest = digest;
    if (err) return err;
    this.#loadedNow(agent, rec);
    return undefined;
  }

  /** A refused value of a name never loaded: not evaluated again until it changes. */
  #remember(agent: string, digest: string): void {
    setNewest(this.#refused, agent, { digest, seen: this.#epoch }, this.#maxPeers);
  }

  /** Loads what a peer published under another label (a fetch); returns the error that refused it. */
  putLabel(agent: string, label: string, value: Uint8Array): NixlError | undefined {
    if (!this.#peers.has(agent) && this.#peers.size >= this.#maxPeers) {
      return new NotAllowedError(
        `etcd: ${this.#peers.size} peers are loaded already (maxPeers); '${agent}' ignored`,
        { op: 'fetchRemoteMD', agent },
      );
    }
    const err = this.#check(agent, label, value) ?? this.#load(agent, value);
    if (err) return err;
    const rec = this.#peers.get(agent) ?? { loaded: false, seen: this.#epoch };
    this.#peers.set(agent, rec);
    this.#loadedNow(agent, rec);
    return undefined;
  }

  /** Forgets a peer: invalidated on the agent, peer:leave if it was loaded. */
  remove(agent: string, reason: string): void {
    this.#refused.delete(agent);
    const rec = this.#peers.get(agent);
    if (!rec) return;
    this.#peers.delete(agent);
    this.#forget(agent, rec, reason);
  }

  /**
   * Peers the agent dropped by itself (a backend reported them dead): they
   * get peer:leave and are forgotten here; the caller reloads those still
   * published.
   */
  dropped(): string[] {
    const out: string[] = [];
    for (const [agent, rec] of this.#peers) {
      if (rec.loaded && !this.#host.checkRemoteMD(agent)) {
        this.#peers.delete(agent);
        this.#forget(agent, rec, 'the agent dropped it');
        out.push(agent);
      }
    }
    return out;
  }

  #forget(agent: string, rec: PeerRecord, reason: string): void {
    try {
      if (this.#host.checkRemoteMD(agent)) this.#host.invalidateRemoteMD(agent);
    } catch (err) {
      this.#host.log('invalidating %s: %s', agent, (err as Error).message);
    }
    if (rec.loaded) {
      this.#host.log('%s left: %s', agent, reason);
      this.#emit(() => this.#host.emitPeerEvent('peer:leave', agent));
    }
  }

  /**
   * Applies the updates of the chain from the one whose base this view came
   * from; 'stale' if none (the caller loads the full metadata instead).
   */
  #loadPartial(
    agent: string,
    update: Uint8Array,
    metadata: Uint8Array,
  ): NixlError | 'stale' | undefined {
    const rec = this.#peers.get(agent)!;
    const digest = metadataDigest(metadata);
    if (rec.digest === digest && this.#host.checkRemoteMD(agent)) return undefined;
    const links = decodeUpdate(update) ?? [];
    const from = links.findLastIndex((l) => l.base === rec.digest);
    if (from < 0 || !this.#host.checkRemoteMD(agent)) return 'stale';
    for (const l of links.slice(from)) {
      // A refusal part way leaves rec.digest as it was: the full metadata follows.
      const err = this.#check(agent, UPDATE_LABEL, l.partial) ?? this.#load(agent, l.partial);
      if (err) return err;
    }
    rec.digest = digest;
    this.#loadedNow(agent, rec);
    return undefined;
  }

  #loadedNow(agent: string, rec: PeerRecord): void {
    const kind = rec.loaded ? 'peer:update' : 'peer:join';
    rec.loaded = true;
    this.#emit(() => this.#host.emitPeerEvent(kind, agent));
  }

  /** The size bound and the name inside the value, before anything is loaded. */
  #check(agent: string, label: string, value: Uint8Array): NixlError | undefined {
    if (value.byteLength > this.#maxValueBytes) {
      return new MismatchError(
        `etcd: the '${label}' value of '${agent}' is ${value.byteLength} bytes, over the ` +
          `${this.#maxValueBytes}-byte bound (maxValueBytes); ignored`,
        { op: 'discovery', agent },
      );
    }
    let name: string;
    try {
      name = decodeMetadataHeader(value).name;
    } catch (err) {
      return refused(err, `etcd: the '${label}' value of '${agent}' is not metadata`, agent);
    }
    if (name !== agent) {
      return new NotAllowedError(
        `etcd: the '${label}' key of '${agent}' holds metadata of '${name}'; ignored`,
        { op: 'discovery', agent },
      );
    }
    return undefined;
  }

  #load(agent: string, value: Uint8Array): NixlError | undefined {
    try {
      this.#host.loadRemoteMD(value);
      return undefined;
    } catch (err) {
      return refused(err, `etcd: metadata of '${agent}' was not loaded`, agent);
    }
  }

  /**
   * Emits a refusal as a discovery:error (held during start): REPORT_BURST at
   * once, then one a second; the others are counted, and the count rides on
   * the next one emitted. A namespace writer may invent any number of agent
   * names, so the bound is over all of them, not per peer.
   */
  report(err: NixlError | undefined): void {
    if (!err) return;
    const now = performance.now();
    const refill = Math.floor((now - this.#reportRefill) / REPORT_INTERVAL_MS);
    if (refill > 0) {
      this.#reportTokens = Math.min(REPORT_BURST, this.#reportTokens + refill);
      this.#reportRefill += refill * REPORT_INTERVAL_MS;
    }
    if (this.#reportTokens === 0) {
      this.#suppressed++;
      this.#suppressedTotal++;
      return;
    }
    this.#reportTokens--;
    if (this.#suppressed > 0) {
      err.message += ` (${this.#suppressed} similar reports suppressed before this one)`;
      this.#suppressed = 0;
    }
    this.#emit(() => this.#host.emitError(err));
  }
}

/**
 * A refusal naming the peer, of the refusing error's class (MismatchError for
 * anything else), without the refusing error as its cause: a decoder's error keeps the value
 * it was decoding alive (V8 holds the frames of an unformatted stack, and
 * their receivers), and reports may be held or kept by the user. Its message
 * is in this one's.
 */
function refused(err: unknown, what: string, agent: string): NixlError {
  const message = `${what}: ${(err as Error)?.message ?? String(err)}`;
  const ctx = { op: 'discovery', agent };
  if (err instanceof NixlError) {
    return new (err.constructor as new (m: string, c: object) => NixlError)(message, ctx);
  }
  return new MismatchError(message, ctx);
}
