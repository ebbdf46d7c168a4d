import protobuf from 'protobufjs';

import { MEM_TYPE_CODE, MEM_TYPES, type MemType } from './descriptors.js';
import { InvalidParamError, MismatchError } from './errors.js';
import { METADATA_FORMAT_VERSION, METADATA_MAGIC, METADATA_PROTO } from './metadata-schema.js';
import { decodedBytes } from './proto.js';

export interface RegionMetadata {
  addr: number;
  len: number;
  devId: number;
  publicData: Uint8Array;
}

export interface MemSectionMetadata {
  backend: string;
  memType: MemType;
  regions: RegionMetadata[];
}

/** Decoded agent metadata: what one agent tells its peers about itself. */
export interface AgentMetadata {
  name: string;
  agentId: Uint8Array;
  hostId: string;
  /** Partial metadata adds to what a peer knows; full metadata replaces it. */
  partial: boolean;
  conns: { backend: string; connInfo: Uint8Array }[];
  sections: MemSectionMetadata[];
  /** Application blobs published under a label (e.g. a KV-cache layout). */
  labels: Map<string, Uint8Array>;
}

/** A memory section as it travels: its regions still packed in columns. */
export interface PackedSection {
  readonly backend: string;
  readonly memType: MemType;
  /** Regions the section lists; unpackRegions checks the columns against it. */
  readonly count: number;
  readonly addrs: Uint8Array;
  readonly lens: Uint8Array;
  readonly devIds: Uint8Array;
  readonly pdLens: Uint8Array;
  readonly publicData: Uint8Array;
}

/**
 * Agent metadata with every section still packed: decoding it costs
 * O(sections), whatever the number of regions, so a loader can refuse
 * metadata by its region counts before reading any region. Byte fields
 * are views into the blob.
 */
export interface MetadataHeader extends Omit<AgentMetadata, 'sections'> {
  sections: PackedSection[];
}

/** A section's regions, one column per field: region i is index i. */
export interface RegionColumns {
  readonly count: number;
  readonly addrs: Float64Array;
  readonly lens: Float64Array;
  readonly devIds: Float64Array;
  /**
   * Region i's public data is publicData[pdRanges[2i] .. pdRanges[2i + 1]):
   * start and end side by side, so that reading regions out of order costs
   * one cache miss for both.
   */
  readonly pdRanges: Float64Array;
  /** A copy of the section's public data: regions never alias the blob. */
  readonly publicData: Uint8Array;
}

export const AGENT_ID_BYTES = 16;
const MAX_NAME = 1024;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const MEM_TYPE_BY_CODE = new Map<number, MemType>(MEM_TYPES.map((m) => [MEM_TYPE_CODE[m], m]));

const AgentMetadataType = protobuf.parse(METADATA_PROTO).root.lookupType('nixl_ts.AgentMetadata');

// ------------------------------------------------------------------ encoding

function varintSize(v: number): number {
  if (v < 2 ** 7) return 1;
  if (v < 2 ** 14) return 2;
  if (v < 2 ** 21) return 3;
  if (v < 2 ** 28) return 4;
  if (v < 2 ** 35) return 5;
  if (v < 2 ** 42) return 6;
  if (v < 2 ** 49) return 7;
  return 8;
}

function writeVarint(out: Uint8Array, p: number, v: number): number {
  while (v > 0x7fffffff) {
    out[p++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  while (v > 0x7f) {
    out[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[p++] = v;
  return p;
}

function checkEncodable(v: number, what: string): void {
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new InvalidParamError(`region ${what} ${v} is not an integer in [0, 2^53)`, {
      op: 'encodeMetadata',
    });
  }
}

function packRegions(regions: readonly RegionMetadata[]) {
  const n = regions.length;
  let addrBytes = 0;
  let lenBytes = 0;
  let devBytes = 0;
  let pdLenBytes = 0;
  let pdBytes = 0;
  for (let i = 0; i < n; i++) {
    const r = regions[i]!;
    checkEncodable(r.addr, 'address');
    checkEncodable(r.len, 'length');
    checkEncodable(r.devId, 'device id');
    addrBytes += varintSize(r.addr);
    lenBytes += varintSize(r.len);
    devBytes += varintSize(r.devId);
    pdLenBytes += varintSize(r.publicData.length);
    pdBytes += r.publicData.length;
  }
  const addrs = new Uint8Array(addrBytes);
  const lens = new Uint8Array(lenBytes);
  const devIds = new Uint8Array(devBytes);
  const pdLens = new Uint8Array(pdLenBytes);
  const publicData = new Uint8Array(pdBytes);
  let a = 0;
  let l = 0;
  let d = 0;
  let pl = 0;
  let p = 0;
  for (let i = 0; i < n; i++) {
    const r = regions[i]!;
    a = writeVarint(addrs, a, r.addr);
    l = writeVarint(lens, l, r.len);
    d = writeVarint(devIds, d, r.devId);
    pl = writeVarint(pdLens, pl, r.publicData.length);
    publicData.set(r.publicData, p);
    p += r.publicData.length;
  }
  return { count: n, addrs, lens, devIds, publicDataLens: pdLens, publicData };
}

export function encodeMetadata(md: AgentMetadata): Uint8Array {
  const message = AgentMetadataType.fromObject({
    magic: METADATA_MAGIC,
    formatVersion: METADATA_FORMAT_VERSION,
    agentName: md.name,
    agentId: md.agentId,
    hostId: md.hostId,
    partial: md.partial,
    conns: md.conns.map((c) => ({ backend: c.backend, connInfo: c.connInfo })),
    sections: md.sections.map((s) => ({
      backend: s.backend,
      memType: MEM_TYPE_CODE[s.memType],
      ...packRegions(s.regions),
    })),
    labels: Object.fromEntries(md.labels),
  });
  return AgentMetadataType.encode(message).finish();
}

// ------------------------------------------------------------------ decoding

function mismatch(what: string, cause?: unknown): never {
  throw new MismatchError(`metadata ${what}`, { op: 'loadRemoteMD', cause });
}

/**
 * Decodes and validates everything but the regions: magic, version, names,
 * connections, sections (backend, memory type, region count) and labels.
 * O(sections + connections + labels); byte fields are views into `blob`.
 * Anything wrong is a MismatchError. The regions are read by unpackRegions.
 */
export function decodeMetadataHeader(blob: Uint8Array): MetadataHeader {
  if (!(blob instanceof Uint8Array)) mismatch('must be a Uint8Array');
  // The decoded message is read as it is (no toObject copy): an absent field
  // reads as its prototype default, an absent bytes field as an empty array
  // (decodedBytes), an absent repeated or map field as an empty one.
  let obj: any;
  try {
    obj = AgentMetadataType.decode(blob);
  } catch (err) {
    mismatch('is not a valid protobuf message', err);
  }
  if (obj.magic !== METADATA_MAGIC) mismatch('is not nixl-ts agent metadata (bad magic)');
  if (obj.formatVersion !== METADATA_FORMAT_VERSION) {
    mismatch(
      `has format version ${obj.formatVersion}; this agent reads version ${METADATA_FORMAT_VERSION}`,
    );
  }
  const name: string = obj.agentName;
  if (!name || name.length > MAX_NAME) mismatch('has an empty or oversized agent name');
  const agentId = decodedBytes(obj.agentId);
  if (agentId.length !== AGENT_ID_BYTES) mismatch(`has an agent id of ${agentId.length} bytes`);

  const conns: AgentMetadata['conns'] = [];
  const seen = new Set<string>();
  for (const c of obj.conns) {
    if (!c.backend) mismatch('has a connection entry without a backend name');
    if (seen.has(c.backend)) mismatch(`lists backend ${c.backend} twice`);
    seen.add(c.backend);
    conns.push({ backend: c.backend, connInfo: decodedBytes(c.connInfo) });
  }

  const sections: PackedSection[] = [];
  const seenSections = new Set<string>();
  for (const s of obj.sections) {
    if (!s.backend) mismatch('has a memory section without a backend name');
    const memType = MEM_TYPE_BY_CODE.get(s.memType);
    if (!memType) mismatch(`has unknown memory type code ${s.memType}`);
    const key = `${s.backend}/${memType}`;
    if (seenSections.has(key)) mismatch(`has two ${key} sections`);
    seenSections.add(key);
    const count: number = s.count;
    const addrs = decodedBytes(s.addrs);
    const lens = decodedBytes(s.lens);
    const devIds = decodedBytes(s.devIds);
    const pdLens = decodedBytes(s.publicDataLens);
    // Every region takes at least one byte in each varint column.
    const shortest = Math.min(addrs.length, lens.length, devIds.length, pdLens.length);
    if (count > shortest) mismatch(`lists ${count} ${key} regions but holds fewer`);
    sections.push({
      backend: s.backend,
      memType,
      count,
      addrs,
      lens,
      devIds,
      pdLens,
      publicData: decodedBytes(s.publicData),
    });
  }

  const labels = new Map<string, Uint8Array>();
  for (const [k, v] of Object.entries(obj.labels as Record<string, Uint8Array>))
    labels.set(k, decodedBytes(v));

  return {
    name,
    agentId,
    hostId: obj.hostId,
    partial: obj.partial,
    conns,
    sections,
    labels,
  };
}

/** Reads a column of varints, each below 2^53. */
class VarintColumn {
  pos = 0;
  constructor(
    readonly bytes: Uint8Array,
    readonly what: string,
  ) {}

  next(): number {
    const bytes = this.bytes;
    if (this.pos >= bytes.length) mismatch(`has a ${this.what} column shorter than its regions`);
    let b = bytes[this.pos++]!;
    if (b < 0x80) return b;
    let v = b & 0x7f;
    let scale = 0x80;
    do {
      if (this.pos >= bytes.length) mismatch(`has a truncated ${this.what}`);
      b = bytes[this.pos++]!;
      v += (b & 0x7f) * scale;
      scale *= 0x80;
    } while (b >= 0x80 && scale <= 2 ** 49);
    // At most 8 bytes: 56 bits, of which 53 may be used.
    if (b >= 0x80 || v > MAX_SAFE) mismatch(`has a ${this.what} beyond 2^53`);
    return v;
  }

  end(): void {
    if (this.pos !== this.bytes.length) {
      mismatch(`has a ${this.what} column longer than its regions`);
    }
  }
}

function scanRegions(s: PackedSection, out: RegionColumns | undefined): void {
  const a = new VarintColumn(s.addrs, 'address');
  const l = new VarintColumn(s.lens, 'length');
  const d = new VarintColumn(s.devIds, 'device id');
  const p = new VarintColumn(s.pdLens, 'public data length');
  let pdTotal = 0;
  for (let i = 0; i < s.count; i++) {
    const addr = a.next();
    const len = l.next();
    const devId = d.next();
    const pdLen = p.next();
    if (addr + len > MAX_SAFE) mismatch('has a region past 2^53');
    if (out) {
      out.addrs[i] = addr;
      out.lens[i] = len;
      out.devIds[i] = devId;
      out.pdRanges[2 * i] = pdTotal;
      out.pdRanges[2 * i + 1] = pdTotal + pdLen;
    }
    pdTotal += pdLen;
  }
  a.end();
  l.end();
  d.end();
  p.end();
  if (pdTotal !== s.publicData.length) {
    mismatch(`public data lengths add up to ${pdTotal} bytes, not ${s.publicData.length}`);
  }
}

/** Checks a section's regions without keeping them (O(regions), no allocation). */
export function checkRegions(s: PackedSection): void {
  scanRegions(s, undefined);
}

/** Checks and unpacks a section's regions into columns (MismatchError if malformed). */
export function unpackRegions(s: PackedSection): RegionColumns {
  const n = s.count;
  const out: RegionColumns = {
    count: n,
    addrs: new Float64Array(n),
    lens: new Float64Array(n),
    devIds: new Float64Array(n),
    pdRanges: new Float64Array(2 * n),
    publicData: new Uint8Array(s.publicData),
  };
  scanRegions(s, out);
  return out;
}

/**
 * The regions `order` lists (a permutation of 0..count-1, or some of them),
 * in that order, in one gathering pass, so that later passes read the
 * columns in order. The public data stays where it is (shared).
 */
export function reorderRegions(c: RegionColumns, order: Uint32Array): RegionColumns {
  const n = order.length;
  const { addrs, lens, devIds, pdRanges } = c;
  const outAddrs = new Float64Array(n);
  const outLens = new Float64Array(n);
  const outDevIds = new Float64Array(n);
  const outRanges = new Float64Array(2 * n);
  for (let k = 0; k < n; k++) {
    const i = order[k]!;
    outAddrs[k] = addrs[i]!;
    outLens[k] = lens[i]!;
    outDevIds[k] = devIds[i]!;
    outRanges[2 * k] = pdRanges[2 * i]!;
    outRanges[2 * k + 1] = pdRanges[2 * i + 1]!;
  }
  return {
    count: n,
    addrs: outAddrs,
    lens: outLens,
    devIds: outDevIds,
    pdRanges: outRanges,
    publicData: c.publicData,
  };
}

/** Region i's public data: a view of the columns' own copy. */
export function publicDataOf(c: RegionColumns, i: number): Uint8Array {
  const start = c.pdRanges[2 * i]!;
  // The constructor, not subarray(): no species lookup, for a million of these.
  const pd = c.publicData;
  return new Uint8Array(pd.buffer, pd.byteOffset + start, c.pdRanges[2 * i + 1]! - start);
}

function regionList(c: RegionColumns): RegionMetadata[] {
  const out = new Array<RegionMetadata>(c.count);
  for (let i = 0; i < c.count; i++) {
    out[i] = {
      addr: c.addrs[i]!,
      len: c.lens[i]!,
      devId: c.devIds[i]!,
      publicData: publicDataOf(c, i),
    };
  }
  return out;
}

/**
 * Decodes and validates a blob. Anything that is not well-formed metadata of
 * this format version is a MismatchError; a returned value is complete. The
 * result does not alias `blob`; each section's `regions` list is built when
 * first read (reading only names costs O(sections) plus one pass of checks).
 */
export function decodeMetadata(blob: Uint8Array): AgentMetadata {
  if (!(blob instanceof Uint8Array)) mismatch('must be a Uint8Array');
  const header = decodeMetadataHeader(new Uint8Array(blob));
  for (const s of header.sections) checkRegions(s);
  return {
    ...header,
    sections: header.sections.map((s): MemSectionMetadata => {
      let regions: RegionMetadata[] | undefined;
      return {
        backend: s.backend,
        memType: s.memType,
        get regions(): RegionMetadata[] {
          return (regions ??= regionList(unpackRegions(s)));
        },
        set regions(value: RegionMetadata[]) {
          regions = value;
        },
      };
    }),
  };
}
