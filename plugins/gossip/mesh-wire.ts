/**
 * The mesh wire format (proto/mesh.proto): frames between linked members, and
 * the payload of a member's signed record (its agent name, listen addresses
 * and full metadata). Frames carry the format version; another is refused
 * with MismatchError.
 */
import protobuf from 'protobufjs';

import { MismatchError } from '../../src/errors.js';
import { readProto } from '../../src/proto.js';
import type { MeshMessage } from './membership.js';

export const MESH_FORMAT_VERSION = 1;

const root = protobuf.parse(readProto('mesh.proto')).root;
const FrameType = root.lookupType('nixl_ts.mesh.Frame');
const PayloadType = root.lookupType('nixl_ts.mesh.MemberPayload');
const TO_OBJECT = { defaults: true, arrays: true, bytes: Uint8Array, oneofs: true } as const;

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
  return FrameType.encode(FrameType.fromObject(obj)).finish();
}

export function decodeFrame(bytes: Uint8Array): MeshMessage {
  let o: any;
  try {
    o = FrameType.toObject(FrameType.decode(bytes), TO_OBJECT);
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

function bodyOf(o: any): MeshMessage {
  switch (o.body) {
    case 'gossip':
      return {
        kind: 'gossip',
        records: o.gossip.records,
        deaths: o.gossip.deaths,
        suspects: o.gossip.suspects,
        alives: o.gossip.alives,
      };
    case 'digest':
      return o.digest.buckets.byteLength
        ? { kind: 'digest', hash: o.digest.hash, count: o.digest.count, buckets: o.digest.buckets }
        : { kind: 'digest', hash: o.digest.hash, count: o.digest.count };
    case 'entries':
      return o.entries.bucketCount
        ? {
            kind: 'entries',
            entries: o.entries.entries,
            buckets: o.entries.buckets,
            bucketCount: o.entries.bucketCount,
          }
        : { kind: 'entries', entries: o.entries.entries };
    case 'pull':
      return { kind: 'pull', ids: o.pull.ids };
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
  return PayloadType.encode(PayloadType.fromObject(p)).finish();
}

export function decodePayload(bytes: Uint8Array): MemberPayload {
  try {
    const o: any = PayloadType.toObject(PayloadType.decode(bytes), TO_OBJECT);
    if (!o.name) throw new Error('no agent name');
    return { name: o.name, addrs: o.addrs, metadata: o.metadata };
  } catch (err) {
    throw new MismatchError(`malformed member record: ${(err as Error).message}`, {
      op: 'discovery',
      cause: err,
    });
  }
}
