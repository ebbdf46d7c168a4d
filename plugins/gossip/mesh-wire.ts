/**
 * The mesh wire format (proto/mesh.proto): frames between linked members, and
 * the payload of a member's signed record (its agent name, listen addresses
 * and full metadata). Frames carry the format version; another is refused
 * with MismatchError. Since version 2 a frame may carry further messages to
 * the same member (`also`, joinFrames): a frame costs both sides the same
 * muxing, encryption and read whatever it carries, so what a member sends
 * another in one turn goes in one.
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

export const MESH_FORMAT_VERSION = 2;

/** Most messages one frame may carry (its own and those in `also`); more is refused. */
export const MAX_FRAME_MESSAGES = 64;

/** The key of Frame's `also` (field 11, length-delimited), as written before each joined message. */
const ALSO_KEY = (11 << 3) | 2;

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

/** Bytes an encoded message of `length` bytes adds when joined to a frame (its key, length and bytes). */
export function joinedBytes(length: number): number {
  let n = 1;
  for (let v = length; v >= 0x80; v >>>= 7) n++;
  return 1 + n + length;
}

/**
 * One frame carrying encoded messages (encodeFrame's) in order: the first's
 * bytes with the others appended as its `also`, copied, not re-encoded.
 */
export function joinFrames(frames: readonly Uint8Array[]): Uint8Array {
  if (frames.length === 1) return frames[0]!;
  let size = frames[0]!.byteLength;
  for (let i = 1; i < frames.length; i++) size += joinedBytes(frames[i]!.byteLength);
  const out = new Uint8Array(size);
  out.set(frames[0]!, 0);
  let o = frames[0]!.byteLength;
  for (let i = 1; i < frames.length; i++) {
    const f = frames[i]!;
    out[o++] = ALSO_KEY;
    let v = f.byteLength;
    for (; v >= 0x80; v >>>= 7) out[o++] = (v & 0x7f) | 0x80;
    out[o++] = v;
    out.set(f, o);
    o += f.byteLength;
  }
  return out;
}

/** The messages of a frame, in order (see joinFrames); MismatchError names what is wrong. */
export function decodeFrames(bytes: Uint8Array): MeshMessage[] {
  const o = decodeOne(bytes);
  const also: Uint8Array[] = o.also;
  if (also.length >= MAX_FRAME_MESSAGES) {
    throw new MismatchError(
      `discovery mesh frame carries ${also.length + 1} messages; at most ${MAX_FRAME_MESSAGES}`,
      { op: 'discovery' },
    );
  }
  const out = [messageOf(o)];
  for (const bytes of also) {
    const m = decodeOne(bytes);
    if (m.also.length) {
      throw new MismatchError('discovery mesh frame nests joined messages in a joined one', {
        op: 'discovery',
      });
    }
    out.push(messageOf(m));
  }
  return out;
}

/** A frame that carries one message (MismatchError if it carries more). */
export function decodeFrame(bytes: Uint8Array): MeshMessage {
  const o = decodeOne(bytes);
  if (o.also.length) {
    throw new MismatchError(
      `discovery mesh frame carries ${o.also.length + 1} messages where one was expected`,
      { op: 'discovery' },
    );
  }
  return messageOf(o);
}

function decodeOne(bytes: Uint8Array): any {
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
  return o;
}

function messageOf(o: any): MeshMessage {
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
      return {
        kind: 'gossip',
        records: g.records.map(recordOf),
        deaths: g.deaths.map(deathOf),
        suspects: g.suspects.map(deathOf),
        alives: g.alives.map(aliveOf),
      };
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
