/**
 * The mesh wire format (proto/mesh.proto): frames between linked members, and
 * the payload of a member's signed record (its agent name, listen addresses
 * and full metadata). Frames carry the format version; another is refused
 * with MismatchError.
 *
 * Frames are encoded from and decoded to plain objects by hand around
 * protobufjs's `encode`/`decode`, without its `fromObject`/`toObject`
 * conversions: the bytes on the wire are the same, each frame costs two
 * object walks less, and a worker process has fewer generated functions to
 * make hot (V8 compiled 28 of them per worker, 13 % of its optimized code).
 */
import protobuf from 'protobufjs';

import { MismatchError } from '../../src/errors.js';
import { decodedBytes, readProto } from '../../src/proto.js';
import type { Alive, Death, DigestEntry, MeshMessage, SignedRecord } from './membership.js';

export const MESH_FORMAT_VERSION = 1;

const root = protobuf.parse(readProto('mesh.proto')).root;
const FrameType = root.lookupType('nixl_ts.mesh.Frame');
const PayloadType = root.lookupType('nixl_ts.mesh.MemberPayload');

export interface MemberPayload {
  name: string;
  addrs: string[];
  metadata: Uint8Array;
}

export function encodeFrame(msg: MeshMessage): Uint8Array {
  const obj: Record<string, unknown> = { version: MESH_FORMAT_VERSION };
  if (msg.links) obj.links = msg.links;
  switch (msg.kind) {
    case 'gossip':
      obj.gossip = {
        records: msg.records,
        deaths: msg.deaths,
        suspects: msg.suspects,
        alives: msg.alives ?? [],
        room: msg.room ?? [],
      };
      break;
    case 'digest':
      obj.digest = { hash: msg.hash, count: msg.count, buckets: msg.buckets ?? new Uint8Array() };
      break;
    case 'entries':
      obj.entries = {
        entries: msg.entries,
        buckets: msg.buckets ?? [],
        bucketCount: msg.bucketCount ?? 0,
      };
      break;
    case 'pull':
      obj.pull = { ids: msg.ids };
      break;
    case 'ping':
      obj.ping = { nonce: msg.nonce };
      break;
    case 'ack':
      obj.ack = { nonce: msg.nonce };
      break;
    case 'ping-req':
      obj.pingReq = { target: msg.target, nonce: msg.nonce };
      break;
    case 'unlink':
      obj.unlink = { nonce: 0 };
      break;
  }
  // The fields already have their wire types (strings, numbers, booleans, bytes): encode as they are.
  return FrameType.encode(obj).finish();
}

export function decodeFrame(bytes: Uint8Array): MeshMessage {
  let o: any;
  try {
    o = FrameType.decode(bytes);
  } catch (err) {
    throw new MismatchError('malformed discovery mesh frame', { op: 'discovery', cause: err });
  }
  if (o.version !== MESH_FORMAT_VERSION) {
    throw new MismatchError(
      `discovery mesh frame has format version ${o.version}; this agent speaks version ${MESH_FORMAT_VERSION}`,
      { op: 'discovery' },
    );
  }
  const links: number = o.links;
  return links ? { ...bodyOf(o), links } : bodyOf(o);
}

/*
 * From protobufjs's decoded messages (absent fields read from the prototype's
 * defaults) to plain objects of one shape per kind, every field present, as
 * `toObject({ defaults: true, arrays: true })` made them.
 */

function recordOf(r: any): SignedRecord {
  return {
    id: r.id,
    version: r.version,
    left: r.left,
    payload: decodedBytes(r.payload),
    sig: decodedBytes(r.sig),
  };
}

function deathOf(d: any): Death {
  return { id: d.id, version: d.version, by: d.by, lost: d.lost, lostMs: d.lostMs };
}

function aliveOf(a: any): Alive {
  return { id: a.id, version: a.version, digest: decodedBytes(a.digest), sig: decodedBytes(a.sig) };
}

function entryOf(e: any): DigestEntry {
  return { id: e.id, version: e.version, dead: e.dead };
}

function bodyOf(o: any): MeshMessage {
  switch (o.body) {
    case 'gossip': {
      const g = o.gossip;
      const gossip: Extract<MeshMessage, { kind: 'gossip' }> = {
        kind: 'gossip',
        records: g.records.map(recordOf),
        deaths: g.deaths.map(deathOf),
        suspects: g.suspects.map(deathOf),
        alives: g.alives.map(aliveOf),
      };
      // (Present only when it names some: most gossip frames point nowhere.)
      if (g.room.length) gossip.room = [...g.room];
      return gossip;
    }
    case 'digest': {
      const buckets = decodedBytes(o.digest.buckets);
      return buckets.byteLength
        ? { kind: 'digest', hash: o.digest.hash, count: o.digest.count, buckets }
        : { kind: 'digest', hash: o.digest.hash, count: o.digest.count };
    }
    case 'entries':
      return o.entries.bucketCount
        ? {
            kind: 'entries',
            entries: o.entries.entries.map(entryOf),
            buckets: [...o.entries.buckets],
            bucketCount: o.entries.bucketCount,
          }
        : { kind: 'entries', entries: o.entries.entries.map(entryOf) };
    case 'pull':
      return { kind: 'pull', ids: [...o.pull.ids] };
    case 'ping':
      return { kind: 'ping', nonce: o.ping.nonce };
    case 'ack':
      return { kind: 'ack', nonce: o.ack.nonce };
    case 'pingReq':
      return { kind: 'ping-req', target: o.pingReq.target, nonce: o.pingReq.nonce };
    case 'unlink':
      return { kind: 'unlink' };
  }
  throw new MismatchError('discovery mesh frame without a body', { op: 'discovery' });
}

export function encodePayload(p: MemberPayload): Uint8Array {
  return PayloadType.encode(p).finish();
}

export function decodePayload(bytes: Uint8Array): MemberPayload {
  try {
    const o: any = PayloadType.decode(bytes);
    if (!o.name) throw new Error('no agent name');
    return { name: o.name, addrs: [...o.addrs], metadata: decodedBytes(o.metadata) };
  } catch (err) {
    throw new MismatchError(`malformed member record: ${(err as Error).message}`, {
      op: 'discovery',
      cause: err,
    });
  }
}
