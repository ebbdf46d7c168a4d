/**
 * The mesh wire format (proto/mesh.proto): frames between linked members, and
 * the payload of a member's signed record (its agent name, listen addresses
 * and full metadata). Frames carry the format version; another is refused
 * with MismatchError.
 *
 * The codec is protons' (mesh-pb.ts, generated ahead of time from the
 * schema): one plain encoder and decoder per message, monomorphic, where
 * protobufjs built polymorphic ones at run time with `new Function` for V8 to
 * compile in every worker. Decoded bytes fields are views into the frame (no
 * copy). The decoders' `limits` bound how many list items a peer can make us
 * allocate; the transport already bounds a frame's bytes.
 *
 * On the wire: the same bytes as protobufjs wrote (both leave out fields at
 * their default value), so members running either codec understand each other;
 * test/plugins/mesh-wire-compat.test.ts holds that promise.
 */
import { writer } from 'protons-runtime';

import { MismatchError } from '../../src/errors.js';
import {
  Digest,
  Entries,
  Frame,
  Gossip,
  MemberPayload as PayloadCodec,
  Ping,
  PingReq,
  Pull,
  type Alive as WireAlive,
  type Death as WireDeath,
  type Record as WireRecord,
} from './mesh-pb.js';
import type { MeshMessage } from './membership.js';

export const MESH_FORMAT_VERSION = 1;

/**
 * Most items of one list a frame may carry (records, deaths, suspects,
 * alives, digest entries, pulled ids, members with room): well above any
 * directory the mesh holds (maxMembers, 4096 by default), far below what the
 * transport's frame bound (about 1 MiB, 2 bytes an empty item) would allow.
 */
export const MAX_FRAME_LIST_ITEMS = 65_536;

/** Most bucket numbers an entries frame may list (a digest has at most 1024 buckets). */
export const MAX_FRAME_BUCKETS = 1024;

/** Most listen addresses a member payload may carry. */
export const MAX_PAYLOAD_ADDRS = 1024;

const FRAME_LIMITS = {
  limits: {
    gossip: {
      records: MAX_FRAME_LIST_ITEMS,
      deaths: MAX_FRAME_LIST_ITEMS,
      suspects: MAX_FRAME_LIST_ITEMS,
      alives: MAX_FRAME_LIST_ITEMS,
      room: MAX_FRAME_LIST_ITEMS,
    },
    entries: { entries: MAX_FRAME_LIST_ITEMS },
    pull: { ids: MAX_FRAME_LIST_ITEMS },
  },
};
const PAYLOAD_LIMITS = { limits: { addrs: MAX_PAYLOAD_ADDRS } };

const NO_BYTES = new Uint8Array(0);

export interface MemberPayload {
  name: string;
  addrs: string[];
  metadata: Uint8Array;
}

/**
 * The frame's own three fields (version, the body, links) are written here
 * around the generated body codecs: protons' Frame encoder copies the frame
 * and clears its seven other bodies on every call (its oneof), which took
 * half of a gossip frame's encoding. The bytes are the same (field order and
 * all; test/plugins/mesh-wire-compat.test.ts).
 */
export function encodeFrame(msg: MeshMessage): Uint8Array {
  const w = writer();
  w.uint32(VARINT_FIELD_1).uint32(MESH_FORMAT_VERSION);
  switch (msg.kind) {
    case 'gossip':
      w.uint32(BODY_TAG.gossip);
      Gossip.codec().encode(
        {
          // (Bytes fields typed Uint8Array<ArrayBuffer> there: the encoder only reads them.)
          records: msg.records as WireRecord[],
          deaths: msg.deaths as WireDeath[],
          suspects: msg.suspects as WireDeath[],
          alives: (msg.alives ?? []) as WireAlive[],
          room: msg.room ?? [],
        },
        w,
      );
      break;
    case 'digest':
      w.uint32(BODY_TAG.digest);
      Digest.codec().encode(
        {
          hash: msg.hash,
          count: msg.count,
          buckets: (msg.buckets ?? NO_BYTES) as Uint8Array<ArrayBuffer>,
        },
        w,
      );
      break;
    case 'entries':
      w.uint32(BODY_TAG.entries);
      Entries.codec().encode(
        {
          entries: msg.entries,
          buckets: msg.buckets?.length ? packVarints(msg.buckets) : NO_BYTES,
          bucketCount: msg.bucketCount ?? 0,
        },
        w,
      );
      break;
    case 'pull':
      w.uint32(BODY_TAG.pull);
      Pull.codec().encode({ ids: msg.ids }, w);
      break;
    case 'ping':
      w.uint32(BODY_TAG.ping);
      Ping.codec().encode({ nonce: msg.nonce }, w);
      break;
    case 'ack':
      w.uint32(BODY_TAG.ack);
      Ping.codec().encode({ nonce: msg.nonce }, w);
      break;
    case 'ping-req':
      w.uint32(BODY_TAG.pingReq);
      PingReq.codec().encode({ target: msg.target, nonce: msg.nonce }, w);
      break;
    case 'unlink':
      w.uint32(BODY_TAG.unlink);
      Ping.codec().encode({ nonce: 0 }, w);
      break;
  }
  if (msg.links) w.uint32(VARINT_FIELD_10).uint32(msg.links);
  return w.finish();
}

/** Frame's tags (field number << 3 | wire type): a varint, the bodies (length-delimited), a varint. */
const VARINT_FIELD_1 = (1 << 3) | 0;
const BODY_TAG = {
  gossip: (2 << 3) | 2,
  digest: (3 << 3) | 2,
  entries: (4 << 3) | 2,
  pull: (5 << 3) | 2,
  ping: (6 << 3) | 2,
  ack: (7 << 3) | 2,
  pingReq: (8 << 3) | 2,
  unlink: (9 << 3) | 2,
} as const;
const VARINT_FIELD_10 = (10 << 3) | 0;

export function decodeFrame(bytes: Uint8Array): MeshMessage {
  let f: Frame;
  try {
    f = Frame.decode(bytes, FRAME_LIMITS);
  } catch (err) {
    throw new MismatchError(`malformed discovery mesh frame: ${(err as Error).message}`, {
      op: 'discovery',
      cause: err,
    });
  }
  if (f.version !== MESH_FORMAT_VERSION) {
    throw new MismatchError(
      `discovery mesh frame has format version ${f.version}; this agent speaks version ${MESH_FORMAT_VERSION}`,
      { op: 'discovery' },
    );
  }
  const links = f.links;
  return links ? { ...bodyOf(f), links } : bodyOf(f);
}

/*
 * protons' decoded messages are plain objects of one shape per message, every
 * field present (absent ones at their defaults): records, deaths, suspects,
 * alives and entries go on as they are.
 */
function bodyOf(f: Frame): MeshMessage {
  if (f.gossip) {
    const g = f.gossip;
    const gossip: Extract<MeshMessage, { kind: 'gossip' }> = {
      kind: 'gossip',
      records: g.records,
      deaths: g.deaths,
      suspects: g.suspects,
      alives: g.alives,
    };
    // (Present only when it names some: most gossip frames point nowhere.)
    if (g.room.length) gossip.room = g.room;
    return gossip;
  }
  if (f.digest) {
    const d = f.digest;
    return d.buckets.byteLength
      ? { kind: 'digest', hash: d.hash, count: d.count, buckets: d.buckets }
      : { kind: 'digest', hash: d.hash, count: d.count };
  }
  if (f.entries) {
    const e = f.entries;
    return e.bucketCount
      ? {
          kind: 'entries',
          entries: e.entries,
          buckets: unpackVarints(e.buckets),
          bucketCount: e.bucketCount,
        }
      : { kind: 'entries', entries: e.entries };
  }
  if (f.pull) return { kind: 'pull', ids: f.pull.ids };
  if (f.ping) return { kind: 'ping', nonce: f.ping.nonce };
  if (f.ack) return { kind: 'ack', nonce: f.ack.nonce };
  if (f.pingReq) return { kind: 'ping-req', target: f.pingReq.target, nonce: f.pingReq.nonce };
  if (f.unlink) return { kind: 'unlink' };
  throw new MismatchError('discovery mesh frame without a body', { op: 'discovery' });
}

/** Numbers as a packed `repeated uint32`'s content: their varints back to back. */
function packVarints(nums: readonly number[]): Uint8Array<ArrayBuffer> {
  let len = 0;
  for (const n of nums) len += varintLength(n >>> 0);
  const out = new Uint8Array(len);
  let at = 0;
  for (const num of nums) {
    let n = num >>> 0;
    while (n > 0x7f) {
      out[at++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    out[at++] = n;
  }
  return out;
}

function varintLength(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

/** A packed `repeated uint32`'s content back to numbers (at most MAX_FRAME_BUCKETS). */
function unpackVarints(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (out.length === MAX_FRAME_BUCKETS) {
      throw new MismatchError(`discovery mesh frame lists more than ${MAX_FRAME_BUCKETS} buckets`, {
        op: 'discovery',
      });
    }
    let n = 0;
    for (let shift = 0; ; shift += 7) {
      if (at === bytes.length || shift > 28) {
        throw new MismatchError('malformed discovery mesh frame: a bad bucket number', {
          op: 'discovery',
        });
      }
      const b = bytes[at++]!;
      n |= (b & 0x7f) << shift;
      if (b < 0x80) break;
    }
    out.push(n >>> 0);
  }
  return out;
}

export function encodePayload(p: MemberPayload): Uint8Array {
  return PayloadCodec.encode(p as PayloadCodec);
}

export function decodePayload(bytes: Uint8Array): MemberPayload {
  let p: PayloadCodec;
  try {
    p = PayloadCodec.decode(bytes, PAYLOAD_LIMITS);
  } catch (err) {
    throw new MismatchError(`malformed member record: ${(err as Error).message}`, {
      op: 'discovery',
      cause: err,
    });
  }
  if (!p.name)
    throw new MismatchError('malformed member record: no agent name', { op: 'discovery' });
  return p;
}
