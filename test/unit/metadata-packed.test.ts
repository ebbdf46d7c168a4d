/**
 * Format version 2 of agent metadata: regions packed column-wise (varint
 * columns wire-identical to protobuf's packed repeated uint64). A version-1
 * blob is refused by its version; malformed columns are MismatchErrors;
 * large region lists round-trip.
 */
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';

import { MismatchError } from '../../src/errors.js';
import {
  decodeMetadata,
  decodeMetadataHeader,
  encodeMetadata,
  unpackRegions,
  type AgentMetadata,
} from '../../src/metadata.js';
import { METADATA_FORMAT_VERSION, METADATA_MAGIC } from '../../src/metadata-schema.js';

function sample(regions: AgentMetadata['sections'][number]['regions']): AgentMetadata {
  return {
    name: 'peer',
    agentId: new Uint8Array(16).fill(3),
    hostId: 'h',
    partial: false,
    conns: [{ backend: 'TCP', connInfo: new Uint8Array([1]) }],
    sections: [{ backend: 'TCP', memType: 'DRAM', regions }],
    labels: new Map(),
  };
}

/** The version-1 schema (one RegionMD message per region), as older peers send it. */
const V1 = protobuf
  .parse(
    `
syntax = "proto3";
message RegionMD { uint64 addr = 1; uint64 len = 2; uint64 dev_id = 3; bytes public_data = 4; }
message MemSection { string backend = 1; uint32 mem_type = 2; repeated RegionMD regions = 3; }
message BackendConnInfo { string backend = 1; bytes conn_info = 2; }
message AgentMetadata {
  fixed32 magic = 1; uint32 format_version = 2; string agent_name = 3; bytes agent_id = 4;
  string host_id = 5; bool partial = 6; repeated BackendConnInfo conns = 7;
  repeated MemSection sections = 8; map<string, bytes> labels = 9;
}`,
  )
  .root.lookupType('AgentMetadata');

/** The version-2 schema with the columns declared as a foreign reader would. */
const V2_PACKED = protobuf
  .parse(
    `
syntax = "proto3";
message MemSection {
  string backend = 1; uint32 mem_type = 2; uint32 count = 4;
  repeated uint64 addrs = 5 [packed = true]; repeated uint64 lens = 6 [packed = true];
  repeated uint64 dev_ids = 7 [packed = true]; repeated uint32 public_data_lens = 8 [packed = true];
  bytes public_data = 9;
}
message AgentMetadata { fixed32 magic = 1; uint32 format_version = 2; repeated MemSection sections = 8; }
`,
  )
  .root.lookupType('AgentMetadata');

describe('metadata format 2', () => {
  it('refuses version-1 metadata by its version', () => {
    const v1 = V1.encode(
      V1.fromObject({
        magic: METADATA_MAGIC,
        formatVersion: 1,
        agentName: 'old',
        agentId: new Uint8Array(16),
        sections: [{ backend: 'TCP', memType: 0, regions: [{ addr: '4096', len: '10' }] }],
      }),
    ).finish();
    expect(() => decodeMetadata(v1)).toThrow(MismatchError);
    expect(() => decodeMetadata(v1)).toThrow(
      `format version 1; this agent reads version ${METADATA_FORMAT_VERSION}`,
    );
  });

  it('is readable as packed repeated fields by another protobuf reader', () => {
    const blob = encodeMetadata(
      sample([
        { addr: 2 ** 52 + 1, len: 300, devId: 7, publicData: new Uint8Array([1, 2, 3]) },
        { addr: 0, len: 0, devId: 0, publicData: new Uint8Array(0) },
      ]),
    );
    const obj = V2_PACKED.toObject(V2_PACKED.decode(blob), { longs: String }) as any;
    const s = obj.sections[0];
    expect(s.count).toBe(2);
    expect(s.addrs).toEqual([String(2 ** 52 + 1), '0']);
    expect(s.lens).toEqual(['300', '0']);
    expect(s.devIds).toEqual(['7', '0']);
    expect(s.publicDataLens).toEqual([3, 0]);
  });

  it('refuses malformed columns with MismatchError', () => {
    const good = sample([
      { addr: 4096, len: 4096, devId: 0, publicData: new Uint8Array([9, 9]) },
      { addr: 16384, len: 100, devId: 1, publicData: new Uint8Array([8]) },
    ]);
    const header = decodeMetadataHeader(encodeMetadata(good));
    const s = header.sections[0]!;
    const bad = [
      { ...s, count: 3 }, // more regions than the columns hold
      { ...s, count: 1 }, // columns longer than the count
      { ...s, addrs: Uint8Array.from([0x80, 0x80]) }, // truncated varint
      { ...s, lens: Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1]) }, // > 2^53
      { ...s, addrs: Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 1]) }, // 2^53 - 1 + len
      { ...s, publicData: new Uint8Array(4) }, // lengths do not add up
    ];
    for (const section of bad) expect(() => unpackRegions(section)).toThrow(MismatchError);
    expect(unpackRegions(s).count).toBe(2);
  });

  it('round-trips 250,000 regions', () => {
    const regions = Array.from({ length: 250_000 }, (_, i) => ({
      addr: 0x7f00_0000_0000 + i * 8192,
      len: 4096,
      devId: i % 4,
      publicData: Uint8Array.of(i & 0xff, (i >> 8) & 0xff),
    }));
    const blob = encodeMetadata(sample(regions));
    const back = decodeMetadata(blob).sections[0]!.regions;
    expect(back.length).toBe(regions.length);
    for (const i of [0, 1, 4095, 249_999]) {
      expect({ ...back[i], publicData: [...back[i]!.publicData] }).toEqual({
        ...regions[i],
        publicData: [...regions[i]!.publicData],
      });
    }
  }, 60_000);

  it('decodes without aliasing the blob', () => {
    const blob = encodeMetadata(
      sample([{ addr: 1, len: 1, devId: 0, publicData: new Uint8Array([42]) }]),
    );
    const md = decodeMetadata(blob);
    blob.fill(0);
    expect([...md.sections[0]!.regions[0]!.publicData]).toEqual([42]);
    expect([...md.conns[0]!.connInfo]).toEqual([1]);
  });
});
