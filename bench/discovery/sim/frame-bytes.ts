/**
 * The encoded size of a mesh frame, as `encodeFrame(msg).byteLength`, without
 * encoding every record again for every frame that carries it: during a cold
 * start of N members through one seed the seed's frames carry N records each,
 * N of them (N² record encodings a round). A record's share of a gossip frame
 * is measured once per record object (the simulation's members pass the same
 * objects), and the gossip body's length prefix is recomputed for the sum.
 */
import type { MeshMessage, SignedRecord } from '../../../plugins/gossip/membership.js';
import { encodeFrame } from '../../../plugins/gossip/mesh-wire.js';

/** Below this many records a frame is simply encoded. */
const FEW_RECORDS = 4;

const varintBytes = (n: number) =>
  n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;

/**
 * A frame's gossip body length, from the frame's size (`frame`) and the size of
 * the same frame with an empty gossip body (`empty`: the other fields, plus
 * the body's tag and its one-byte zero length).
 */
function bodyBytes(frame: number, empty: number): number {
  const rest = frame - (empty - 1);
  for (let prefix = 1; prefix <= 5; prefix++)
    if (varintBytes(rest - prefix) === prefix) return rest - prefix;
  throw new Error(`no gossip body length fits a ${frame}-byte frame`);
}

type Gossip = Extract<MeshMessage, { kind: 'gossip' }>;

const EMPTY: Gossip = { kind: 'gossip', records: [], deaths: [], suspects: [] };
const EMPTY_BYTES = encodeFrame(EMPTY).byteLength;

/** Each record's bytes in a gossip body: its tag, its length prefix and its own encoding. */
const shares = new WeakMap<SignedRecord, number>();

function recordShare(rec: SignedRecord): number {
  let s = shares.get(rec);
  if (s === undefined) {
    const one = encodeFrame({ ...EMPTY, records: [rec] }).byteLength;
    shares.set(rec, (s = bodyBytes(one, EMPTY_BYTES)));
  }
  return s;
}

export function frameBytes(msg: MeshMessage): number {
  if (msg.kind !== 'gossip' || msg.records.length < FEW_RECORDS) return encodeFrame(msg).byteLength;
  const rest = encodeFrame({ ...msg, records: [] }).byteLength;
  const empty = encodeFrame({ ...EMPTY, links: msg.links }).byteLength;
  const body = bodyBytes(rest, empty);
  let records = 0;
  for (const r of msg.records) records += recordShare(r);
  return rest - varintBytes(body) + varintBytes(body + records) + records;
}
