/**
 * The discovery wire format (protobuf): the metadata fetch request/response
 * and the messages gossiped on a cluster's topic. Every message carries the
 * format version and the cluster name; a peer of another version or cluster
 * is refused (and is never told the name of ours).
 */
import { createHash } from 'node:crypto';

import protobuf from 'protobufjs';

import { readProto } from '../../src/proto.js';

import { MismatchError } from '../../src/errors.js';

export const DISCOVERY_FORMAT_VERSION = 1;
/** The request/response protocol that serves an agent's full metadata. */
export const FETCH_PROTOCOL = '/nixl-ts/discovery/fetch/1.0.0';
/** Largest fetch message accepted (metadata of many regions, plus the peer list). */
export const MAX_FETCH_BYTES = 64 * 1024 * 1024;

/**
 * The cluster's gossip topic. Subscriptions are announced to every connected
 * peer, so the topic names a digest of the cluster, not the cluster itself.
 */
export function topicFor(cluster: string): string {
  const digest = createHash('sha256').update(`nixl-ts/cluster/${cluster}`, 'utf8').digest('hex');
  return `/nixl-ts/discovery/${DISCOVERY_FORMAT_VERSION}/${digest.slice(0, 32)}`;
}

/** proto/discovery.proto, the wire format's source. */
const PROTO = readProto('discovery.proto');

const root = protobuf.parse(PROTO).root;
const FetchRequestType = root.lookupType('nixl_ts.discovery.FetchRequest');
const FetchResponseType = root.lookupType('nixl_ts.discovery.FetchResponse');
const GossipMessageType = root.lookupType('nixl_ts.discovery.GossipMessage');

export interface PeerAddrs {
  peerId: string;
  addrs: string[];
}

export interface FetchRequest {
  version: number;
  cluster: string;
}

export interface FetchResponse {
  version: number;
  cluster: string;
  /** Non-empty when the responder refused the request (e.g. another cluster); never names a cluster. */
  error: string;
  seq: number;
  metadata: Uint8Array;
  peers: PeerAddrs[];
}

export type GossipBody =
  | { kind: 'hello'; addrs: string[]; seq: number; peers: PeerAddrs[] }
  | { kind: 'update'; seq: number; full: boolean; metadata: Uint8Array }
  | { kind: 'tombstone' };

export interface GossipMessage {
  version: number;
  cluster: string;
  agent: string;
  body: GossipBody;
}

const TO_OBJECT = { defaults: true, arrays: true, bytes: Uint8Array, oneofs: true } as const;

function decodeWith(type: protobuf.Type, bytes: Uint8Array, what: string): any {
  try {
    return type.toObject(type.decode(bytes), TO_OBJECT);
  } catch (err) {
    throw new MismatchError(`malformed discovery ${what}`, { op: 'discovery', cause: err });
  }
}

function checkVersion(version: number, what: string): void {
  if (version !== DISCOVERY_FORMAT_VERSION) {
    throw new MismatchError(
      `discovery ${what} has format version ${version}; this agent speaks version ${DISCOVERY_FORMAT_VERSION}`,
      { op: 'discovery' },
    );
  }
}

export function encodeFetchRequest(msg: FetchRequest): Uint8Array {
  return FetchRequestType.encode(FetchRequestType.fromObject(msg)).finish();
}

export function decodeFetchRequest(bytes: Uint8Array): FetchRequest {
  const obj = decodeWith(FetchRequestType, bytes, 'fetch request');
  checkVersion(obj.version, 'fetch request');
  return { version: obj.version, cluster: obj.cluster };
}

export function encodeFetchResponse(msg: FetchResponse): Uint8Array {
  return FetchResponseType.encode(FetchResponseType.fromObject(msg)).finish();
}

export function decodeFetchResponse(bytes: Uint8Array): FetchResponse {
  const obj = decodeWith(FetchResponseType, bytes, 'fetch response');
  checkVersion(obj.version, 'fetch response');
  return {
    version: obj.version,
    cluster: obj.cluster,
    error: obj.error,
    seq: obj.seq,
    metadata: obj.metadata,
    peers: (obj.peers as any[]).map((p) => ({ peerId: p.peerId, addrs: p.addrs })),
  };
}

export function encodeGossip(msg: GossipMessage): Uint8Array {
  const { body } = msg;
  const obj: Record<string, unknown> = {
    version: msg.version,
    cluster: msg.cluster,
    agent: msg.agent,
  };
  if (body.kind === 'hello') obj.hello = { addrs: body.addrs, seq: body.seq, peers: body.peers };
  else if (body.kind === 'update')
    obj.update = { seq: body.seq, full: body.full, metadata: body.metadata };
  else obj.tombstone = {};
  return GossipMessageType.encode(GossipMessageType.fromObject(obj)).finish();
}

export function decodeGossip(bytes: Uint8Array): GossipMessage {
  const obj = decodeWith(GossipMessageType, bytes, 'gossip message');
  checkVersion(obj.version, 'gossip message');
  let body: GossipBody;
  if (obj.body === 'hello') {
    const peers = (obj.hello.peers as any[]).map((p) => ({ peerId: p.peerId, addrs: p.addrs }));
    body = { kind: 'hello', addrs: obj.hello.addrs, seq: obj.hello.seq, peers };
  } else if (obj.body === 'update') {
    body = {
      kind: 'update',
      seq: obj.update.seq,
      full: obj.update.full,
      metadata: obj.update.metadata,
    };
  } else if (obj.body === 'tombstone') body = { kind: 'tombstone' };
  else throw new MismatchError('discovery gossip message without a body', { op: 'discovery' });
  if (!obj.agent)
    throw new MismatchError('discovery gossip message without an agent name', { op: 'discovery' });
  return { version: obj.version, cluster: obj.cluster, agent: obj.agent, body };
}
