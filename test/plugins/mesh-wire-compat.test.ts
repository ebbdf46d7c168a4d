/**
 * The wire-compatibility promise of the protons mesh codec: it writes the
 * bytes protobufjs wrote from the schema it read at run time before
 * (fixtures/mesh-protobufjs.proto), and each codec reads the other's frames
 * to the same messages, every frame kind with every field set. Malformed and
 * oversized input gets MismatchError.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import protobuf from 'protobufjs';

import { MismatchError } from '../../src/errors.js';
import {
  MAX_FRAME_BUCKETS,
  MAX_FRAME_LIST_ITEMS,
  MAX_PAYLOAD_ADDRS,
  MESH_FORMAT_VERSION,
  decodeFrame,
  decodePayload,
  encodeFrame,
  encodePayload,
} from '../../plugins/gossip/mesh-wire.js';
import type { MeshMessage } from '../../plugins/gossip/membership.js';

const oldRoot = protobuf.parse(
  readFileSync(new URL('./fixtures/mesh-protobufjs.proto', import.meta.url), 'utf8'),
).root;
const OldFrame = oldRoot.lookupType('nixl_ts.mesh.Frame');
const OldPayload = oldRoot.lookupType('nixl_ts.mesh.MemberPayload');

/** How the protobufjs codec built a frame's message from a MeshMessage (fromObject, then encode). */
function oldEncode(m: MeshMessage): Uint8Array {
  const body: Record<string, unknown> = {};
  const { kind, links, ...fields } = m as MeshMessage & { links?: number };
  const key = kind === 'ping-req' ? 'pingReq' : kind;
  body[key] = kind === 'unlink' ? { nonce: 0 } : fields;
  const obj = { version: MESH_FORMAT_VERSION, links, ...body };
  return new Uint8Array(OldFrame.encode(OldFrame.fromObject(obj)).finish());
}

/** What the protobufjs codec decoded a frame to, as plain JSON-able values. */
function oldDecode(bytes: Uint8Array): Record<string, unknown> {
  return OldFrame.toObject(OldFrame.decode(bytes), { defaults: true, arrays: true }) as Record<
    string,
    unknown
  >;
}

/** Bytes as plain Uint8Arrays (Buffers and views compare equal to them). */
const plain = (o: any): any =>
  o instanceof Uint8Array
    ? new Uint8Array(o)
    : Array.isArray(o)
      ? o.map(plain)
      : o && typeof o === 'object'
        ? Object.fromEntries(Object.entries(o).map(([k, v]) => [k, plain(v)]))
        : o;

const sig = new Uint8Array(64).map((_, i) => i + 1);
const payload = new Uint8Array(230).map((_, i) => (i * 7) & 0xff);

/** Every frame kind, every field of it set to something other than its default. */
const FRAMES: MeshMessage[] = [
  {
    kind: 'gossip',
    records: [
      { id: 'p1', version: 3.5, left: true, payload, sig },
      { id: 'p2', version: 1764000000123, left: false, payload, sig },
    ],
    deaths: [{ id: 'p3', version: 2, by: 'p9', lost: true, lostMs: 1250 }],
    suspects: [{ id: 'p4', version: 5, by: 'p1', lost: true, lostMs: 70000 }],
    alives: [{ id: 'p5', version: 9, digest: new Uint8Array(32).fill(3), sig }],
    room: ['p1', 'p2'],
    links: 7,
  },
  {
    kind: 'digest',
    hash: '00ff00ff00ff00ff',
    count: 129,
    buckets: new Uint8Array([1, 0, 0, 0, 255, 255, 255, 255]),
    links: 1,
  },
  {
    kind: 'entries',
    entries: [
      { id: 'p1', version: 3, dead: true },
      { id: 'p2', version: 4.25, dead: false },
    ],
    buckets: [0, 5, 127, 128, 300, 65535, 4294967295],
    bucketCount: 256,
    links: 300,
  },
  { kind: 'pull', ids: ['p1', 'p2', 'é-ü'], links: 2 },
  { kind: 'ping', nonce: 4294967295, links: 3 },
  { kind: 'ack', nonce: 4, links: 4 },
  { kind: 'ping-req', target: 'p2', nonce: 5, links: 5 },
  { kind: 'unlink', links: 6 },
];

describe('mesh wire compatibility with the protobufjs codec', () => {
  it('writes the bytes protobufjs wrote, every frame kind with every field set', () => {
    for (const f of FRAMES) {
      expect(Buffer.from(encodeFrame(f)).toString('hex'), f.kind).toBe(
        Buffer.from(oldEncode(f)).toString('hex'),
      );
    }
  });

  it("reads protobufjs's frames to the messages they were made from", () => {
    for (const f of FRAMES) expect(plain(decodeFrame(oldEncode(f))), f.kind).toEqual(plain(f));
  });

  it('writes frames protobufjs reads to the same messages', () => {
    for (const f of FRAMES) {
      const { kind, links, ...fields } = f as MeshMessage & { links?: number };
      const key = kind === 'ping-req' ? 'pingReq' : kind;
      const decoded = oldDecode(encodeFrame(f));
      expect(decoded.version, kind).toBe(MESH_FORMAT_VERSION);
      expect(decoded.links, kind).toBe(links);
      expect(plain(decoded[key]), kind).toEqual(kind === 'unlink' ? { nonce: 0 } : plain(fields));
    }
  });

  it('reads and writes the member payload as protobufjs did', () => {
    const p = {
      name: 'agent-17',
      addrs: ['/ip4/10.0.0.2/tcp/4001', '/ip6/::1/tcp/4001'],
      metadata: payload,
    };
    const old = new Uint8Array(OldPayload.encode(OldPayload.fromObject(p)).finish());
    expect(Buffer.from(encodePayload(p)).toString('hex')).toBe(Buffer.from(old).toString('hex'));
    expect(plain(decodePayload(old))).toEqual(plain(p));
    expect(plain(OldPayload.toObject(OldPayload.decode(encodePayload(p))))).toEqual(plain(p));
  });

  it('decodes bytes fields as views into the frame, not copies', () => {
    const bytes = encodeFrame(FRAMES[0]!);
    const f = decodeFrame(bytes);
    if (f.kind !== 'gossip') throw new Error(`decoded a ${f.kind} frame`);
    expect(f.records[0]!.payload.buffer).toBe(bytes.buffer);
    expect(f.records[0]!.sig.buffer).toBe(bytes.buffer);
  });
});

describe('malformed and oversized mesh frames', () => {
  const mismatch = (bytes: Uint8Array, what: RegExp) => {
    let err: unknown;
    try {
      decodeFrame(bytes);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MismatchError);
    expect((err as Error).message).toMatch(what);
  };

  it('refuses truncated frames and wrong wire types', () => {
    const full = encodeFrame(FRAMES[0]!);
    for (const cut of [1, 3, 20, full.byteLength - 1])
      mismatch(full.subarray(0, cut), /malformed|without a body/);
    // Field 2 (gossip) as a varint (read as a length past the end, or skipped: no body).
    mismatch(new Uint8Array([0x08, 0x01, 0x10, 0x05]), /malformed|without a body/);
    // Wire type 7 does not exist.
    mismatch(new Uint8Array([0x08, 0x01, 0x0f]), /malformed/);
  });

  it('refuses a frame with more list items than MAX_FRAME_LIST_ITEMS', () => {
    const ids = Array.from({ length: MAX_FRAME_LIST_ITEMS + 1 }, () => 'x');
    mismatch(oldEncode({ kind: 'pull', ids }), /malformed.*too many/);
    const deaths = Array.from({ length: MAX_FRAME_LIST_ITEMS + 1 }, () => ({ id: '', version: 0 }));
    mismatch(oldEncode({ kind: 'gossip', records: [], deaths, suspects: [] }), /too many/);
    // One fewer is a frame like any other.
    const ok = decodeFrame(oldEncode({ kind: 'pull', ids: ids.slice(1) }));
    expect(ok.kind === 'pull' && ok.ids.length).toBe(MAX_FRAME_LIST_ITEMS);
  });

  it('refuses more bucket numbers than MAX_FRAME_BUCKETS, and a bad one', () => {
    const buckets = Array.from({ length: MAX_FRAME_BUCKETS + 1 }, (_, i) => i);
    mismatch(
      oldEncode({ kind: 'entries', entries: [], buckets, bucketCount: 2048 }),
      /more than 1024 buckets/,
    );
    // Entries { buckets: [0x80] (a varint cut short), bucketCount: 8 }.
    mismatch(new Uint8Array([0x08, 0x01, 0x22, 0x05, 0x12, 0x01, 0x80, 0x18, 0x08]), /bucket/);
  });

  it('refuses a member payload with more than MAX_PAYLOAD_ADDRS addresses, or malformed', () => {
    const addrs = Array.from({ length: MAX_PAYLOAD_ADDRS + 1 }, () => '/ip4/10.0.0.1/tcp/1');
    const many = OldPayload.encode(
      OldPayload.fromObject({ name: 'a', addrs, metadata: new Uint8Array(1) }),
    ).finish();
    expect(() => decodePayload(many)).toThrow(MismatchError);
    expect(() => decodePayload(many)).toThrow(/too many/);
    expect(() => decodePayload(new Uint8Array([0x0a, 0x09, 0x61]))).toThrow(MismatchError);
  });
});
