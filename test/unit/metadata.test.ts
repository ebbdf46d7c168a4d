import { randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { MismatchError } from '../../src/errors.js';
import { decodeMetadata, encodeMetadata, type AgentMetadata } from '../../src/metadata.js';
import { METADATA_FORMAT_VERSION } from '../../src/metadata-schema.js';

function sample(): AgentMetadata {
  return {
    name: 'prefill-0',
    agentId: new Uint8Array(16).fill(9),
    hostId: 'host/boot/pidns',
    partial: false,
    conns: [
      { backend: 'TCP', connInfo: new Uint8Array([1, 2, 3]) },
      { backend: 'UCX', connInfo: randomBytes(200) },
    ],
    sections: [
      {
        backend: 'TCP',
        memType: 'DRAM',
        regions: [
          { addr: 0x7f00_0000_1000, len: 4096, devId: 0, publicData: new Uint8Array([7]) },
          {
            addr: Number.MAX_SAFE_INTEGER - 10,
            len: 10,
            devId: 2 ** 40,
            publicData: new Uint8Array(0),
          },
        ],
      },
      {
        backend: 'UCX',
        memType: 'VRAM',
        regions: [{ addr: 1, len: 2, devId: 1, publicData: randomBytes(40) }],
      },
    ],
    labels: new Map([['kv-layout', new Uint8Array([1, 2, 3])]]),
  };
}

function normalize(md: AgentMetadata) {
  return {
    ...md,
    agentId: [...md.agentId],
    conns: md.conns.map((c) => ({ ...c, connInfo: [...c.connInfo] })),
    sections: md.sections.map((s) => ({
      ...s,
      regions: s.regions.map((r) => ({ ...r, publicData: [...r.publicData] })),
    })),
    labels: [...md.labels].map(([k, v]) => [k, [...v]]),
  };
}

describe('metadata wire format', () => {
  it('round-trips full and partial metadata, addresses up to 2^53 included', () => {
    const md = sample();
    expect(normalize(decodeMetadata(encodeMetadata(md)))).toEqual(normalize(md));
    const partial = { ...md, partial: true, conns: [] };
    expect(normalize(decodeMetadata(encodeMetadata(partial)))).toEqual(normalize(partial));
  });

  it('refuses garbage, truncation, other protobuf and other versions with MismatchError', () => {
    const blob = encodeMetadata(sample());
    expect(() => decodeMetadata(new Uint8Array(0))).toThrow(MismatchError);
    expect(() => decodeMetadata(new Uint8Array([0xff, 0xff, 0xff]))).toThrow(MismatchError);
    expect(() => decodeMetadata(blob.subarray(0, blob.length - 5))).toThrow(MismatchError);
    expect(() => decodeMetadata('text' as any)).toThrow(MismatchError);
    // A valid protobuf message of another kind: field 1 as a varint.
    expect(() => decodeMetadata(new Uint8Array([0x08, 0x01]))).toThrow(/bad magic/);
    // Same magic, another version: patch the format_version varint (field 2).
    const i = blob.indexOf(0x10); // tag of field 2, wire type 0
    const other = Uint8Array.from(blob);
    other[i + 1] = METADATA_FORMAT_VERSION + 1;
    expect(() => decodeMetadata(other)).toThrow(
      `format version ${METADATA_FORMAT_VERSION + 1}; this agent reads version ${METADATA_FORMAT_VERSION}`,
    );
  });

  it('refuses structurally wrong content', () => {
    const md = sample();
    expect(() => decodeMetadata(encodeMetadata({ ...md, name: '' }))).toThrow(/agent name/);
    expect(() => decodeMetadata(encodeMetadata({ ...md, agentId: new Uint8Array(3) }))).toThrow(
      /agent id/,
    );
    expect(() =>
      decodeMetadata(encodeMetadata({ ...md, conns: [md.conns[0]!, md.conns[0]!] })),
    ).toThrow(/twice/);
    const twoSections = { ...md, sections: [md.sections[0]!, md.sections[0]!] };
    expect(() => decodeMetadata(encodeMetadata(twoSections))).toThrow(/two TCP\/DRAM sections/);
  });

  it('10,000 random and mutated blobs: each is refused with MismatchError or decodes to metadata that re-encodes identically', () => {
    const base = encodeMetadata(sample());
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    let refused = 0;
    let accepted = 0;
    for (let i = 0; i < 10_000; i++) {
      let blob: Uint8Array;
      if (i % 4 === 0) {
        blob = randomBytes(rand(300));
      } else {
        blob = Uint8Array.from(base);
        const edits = 1 + rand(4);
        for (let e = 0; e < edits; e++) {
          const kind = rand(3);
          const at = rand(blob.length);
          if (kind === 0) blob[at] = rand(256);
          else if (kind === 1) blob = blob.subarray(0, at);
          else blob = Uint8Array.from([...blob.subarray(0, at), rand(256), ...blob.subarray(at)]);
        }
      }
      try {
        const md = decodeMetadata(blob);
        accepted++;
        // Accepted means complete: it survives another round trip unchanged.
        expect(normalize(decodeMetadata(encodeMetadata(md)))).toEqual(normalize(md));
      } catch (err) {
        expect(err).toBeInstanceOf(MismatchError);
        refused++;
      }
    }
    expect(refused + accepted).toBe(10_000);
    expect(refused).toBeGreaterThan(1000);
  });
});
