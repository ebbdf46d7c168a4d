/**
 * The discovery plugin interface: a control-plane service that finds peers,
 * moves their metadata into the agent, and tells the agent when they leave.
 * Discovery is optional; side-channel metadata exchange always works.
 */
import type { DescList } from './descriptors.js';
import type { NixlError } from './errors.js';
import type { Logger } from './logger.js';

export type PeerEventKind = 'peer:join' | 'peer:update' | 'peer:leave';

/** A change to the agent's registered memory, for gossiping to peers. */
export interface RegistrationChange {
  readonly kind: 'register' | 'deregister';
  readonly descs: DescList;
}

/** What the agent offers a discovery service. */
export interface DiscoveryHost {
  readonly name: string;
  readonly log: Logger;
  getLocalMD(): Uint8Array;
  /** Partial metadata with connection info and exactly these registered regions. */
  getLocalPartialMD(descs: DescList): Uint8Array;
  /** Loads (full or partial) metadata; returns the agent name; throws MismatchError etc. */
  loadRemoteMD(blob: Uint8Array): string;
  invalidateRemoteMD(name: string): void;
  checkRemoteMD(name: string): boolean;
  /** Subscribes to local registration changes; returns the unsubscribe function. */
  onRegistrationChange(listener: (change: RegistrationChange) => void): () => void;
  /** Emits `peer:join` / `peer:update` / `peer:leave` on the agent. */
  emitPeerEvent(kind: PeerEventKind, name: string): void;
  /** Emits `discovery:error` on the agent (e.g. a peer claiming a taken name). */
  emitError(error: NixlError): void;
}

export interface Discovery {
  readonly name: string;
  start(host: DiscoveryHost): Promise<void>;
  /** Idempotent. A graceful stop tells peers this agent is leaving. */
  stop(): Promise<void>;
}

/**
 * A metadata plugin that also publishes and fetches on request: NIXL's
 * central-store calls (Agent.sendLocalMD, sendLocalPartialMD, fetchRemoteMD,
 * invalidateLocalMD) go through the first discovery service of an agent that
 * has these methods (etcd does; gossip does not).
 */
export interface MetadataStore extends Discovery {
  /** Publishes this agent's full metadata (again), and its changes from then on. */
  publish(): Promise<void>;
  /** Publishes partial metadata (from getLocalPartialMD) under a label peers fetch by name. */
  publishPartial(label: string, metadata: Uint8Array): Promise<void>;
  /**
   * Loads a peer's metadata published under `label` into the agent; waits
   * for it to be published until the signal aborts (then rejects with the
   * signal's reason).
   */
  fetch(name: string, label: string, signal?: AbortSignal): Promise<void>;
  /** Withdraws everything this agent published: peers invalidate it. */
  unpublish(): Promise<void>;
}

/** True if the discovery service is also a MetadataStore. */
export function isMetadataStore(d: Discovery): d is MetadataStore {
  const s = d as Partial<MetadataStore>;
  return (
    typeof s.publish === 'function' &&
    typeof s.publishPartial === 'function' &&
    typeof s.fetch === 'function' &&
    typeof s.unpublish === 'function'
  );
}
