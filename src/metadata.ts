import protobuf from 'protobufjs';

import { MEM_TYPE_CODE, MEM_TYPES, type MemType } from './descriptors.js';
import { MismatchError } from './errors.js';
import { METADATA_FORMAT_VERSION, METADATA_MAGIC, METADATA_PROTO } from './metadata-schema.js';

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

export const AGENT_ID_BYTES = 16;
const MAX_NAME = 1024;
const MEM_TYPE_BY_CODE = new Map<number, MemType>(MEM_TYPES.map((m) => [MEM_TYPE_CODE[m], m]));

const AgentMetadataType = protobuf.parse(METADATA_PROTO).root.lookupType('nixl_ts.AgentMetadata');

export function encodeMetadata(md: AgentMetadata): Uint8Array {
  // uint64 fields go through fromObject as strings: encode() of a bigint writes 0.
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
      regions: s.regions.map((r) => ({
        addr: String(r.addr),
        len: String(r.len),
        devId: String(r.devId),
        publicData: r.publicData,
      })),
    })),
    labels: Object.fromEntries(md.labels),
  });
  return AgentMetadataType.encode(message).finish();
}

function mismatch(what: string, cause?: unknown): never {
  throw new MismatchError(`metadata ${what}`, { op: 'loadRemoteMD', cause });
}

function safeUint(v: unknown, what: string): number {
  const s = typeof v === 'string' ? v : String(v ?? '0');
  const n = BigInt(s);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) mismatch(`has ${what} ${s} beyond 2^53`);
  return Number(n);
}

/**
 * Decodes and validates a blob. Anything that is not well-formed metadata of
 * this format version is a MismatchError; a returned value is complete.
 */
export function decodeMetadata(blob: Uint8Array): AgentMetadata {
  if (!(blob instanceof Uint8Array)) mismatch('must be a Uint8Array');
  let obj: any;
  try {
    const msg = AgentMetadataType.decode(blob);
    obj = AgentMetadataType.toObject(msg, {
      longs: String,
      bytes: Uint8Array,
      defaults: true,
      arrays: true,
      objects: true,
    });
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
  if (obj.agentId.length !== AGENT_ID_BYTES)
    mismatch(`has an agent id of ${obj.agentId.length} bytes`);

  const conns: AgentMetadata['conns'] = [];
  const seen = new Set<string>();
  for (const c of obj.conns) {
    if (!c.backend) mismatch('has a connection entry without a backend name');
    if (seen.has(c.backend)) mismatch(`lists backend ${c.backend} twice`);
    seen.add(c.backend);
    conns.push({ backend: c.backend, connInfo: c.connInfo });
  }

  const sections: MemSectionMetadata[] = [];
  const seenSections = new Set<string>();
  for (const s of obj.sections) {
    if (!s.backend) mismatch('has a memory section without a backend name');
    const memType = MEM_TYPE_BY_CODE.get(s.memType);
    if (!memType) mismatch(`has unknown memory type code ${s.memType}`);
    const key = `${s.backend}/${memType}`;
    if (seenSections.has(key)) mismatch(`has two ${key} sections`);
    seenSections.add(key);
    const regions: RegionMetadata[] = [];
    for (const r of s.regions) {
      const addr = safeUint(r.addr, 'address');
      const len = safeUint(r.len, 'length');
      const devId = safeUint(r.devId, 'device id');
      if (addr + len > Number.MAX_SAFE_INTEGER) mismatch('has a region past 2^53');
      regions.push({ addr, len, devId, publicData: r.publicData });
    }
    sections.push({ backend: s.backend, memType, regions });
  }

  const labels = new Map<string, Uint8Array>();
  for (const [k, v] of Object.entries(obj.labels as Record<string, Uint8Array>)) labels.set(k, v);

  return {
    name,
    agentId: obj.agentId,
    hostId: obj.hostId,
    partial: obj.partial,
    conns,
    sections,
    labels,
  };
}
