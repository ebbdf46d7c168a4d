/** The discovery mesh wire format (proto/mesh.proto) and the mDNS service tag. */
import { describe, expect, it } from 'vitest';
import protobuf from 'protobufjs';

import { MismatchError } from '../../src/errors.js';
import { readProto } from '../../src/proto.js';
import {
  MESH_FORMAT_VERSION,
  decodeFrame,
  decodePayload,
  encodeFrame,
  encodePayload,
} from '../../plugins/gossip/mesh-wire.js';
import type { MeshMessage } from '../../plugins/gossip/membership.js';
import { mdnsServiceTag } from '../../plugins/mdns/index.js';

/** Bytes decode as Buffers in Node: compare plain Uint8Arrays. */
const plain = (o: any): any =>
  o instanceof Uint8Array
    ? new Uint8Array(o)
    : Array.isArray(o)
      ? o.map(plain)
      : o && typeof o === 'object'
        ? Object.fromEntries(Object.entries(o).map(([k, v]) => [k, plain(v)]))
        : o;

describe('discovery mesh wire format', () => {
  it('round-trips every frame', () => {
    const rec = {
      id: 'p1',
      version: 3,
      left: false,
      payload: new Uint8Array([1, 2, 250]),
      sig: new Uint8Array(64).fill(7),
    };
    const alive = { id: 'p2', version: 9, digest: new Uint8Array(32).fill(1), sig: rec.sig };
    const frames: MeshMessage[] = [
      {
        kind: 'gossip',
        records: [rec],
        deaths: [{ id: 'p3', version: 2, by: '', lost: false, lostMs: 0 }],
        suspects: [{ id: 'p4', version: 5, by: 'p1', lost: true, lostMs: 1250 }],
        alives: [alive],
      },
      { kind: 'digest', hash: '00ff00ff00ff00ff', count: 12 },
      { kind: 'entries', entries: [{ id: 'p1', version: 3, dead: true }] },
      {
        kind: 'digest',
        hash: '00ff00ff00ff00ff',
        count: 12,
        buckets: new Uint8Array([1, 0, 0, 0, 255, 255, 255, 255]),
      },
      {
        kind: 'entries',
        entries: [{ id: 'p1', version: 3, dead: false }],
        buckets: [0, 5],
        bucketCount: 8,
      },
      { kind: 'pull', ids: ['p1', 'p2'] },
      { kind: 'ping', nonce: 4 },
      { kind: 'ack', nonce: 4 },
      { kind: 'ping-req', target: 'p2', nonce: 5 },
      { kind: 'unlink' },
      { kind: 'ping', nonce: 6, links: 130 },
      { kind: 'gossip', records: [rec], deaths: [], suspects: [], alives: [], room: ['p1'] },
    ];
    for (const f of frames) expect(plain(decodeFrame(encodeFrame(f)))).toEqual(plain(f));
    const p = { name: 'agent', addrs: ['/ip4/127.0.0.1/tcp/1'], metadata: new Uint8Array([5]) };
    expect(plain(decodePayload(encodePayload(p)))).toEqual(p);
  });

  it("encodes the same bytes as protobufjs's fromObject path (the wire stays as it was)", () => {
    const Frame = protobuf.parse(readProto('mesh.proto')).root.lookupType('nixl_ts.mesh.Frame');
    const sig = new Uint8Array(64).fill(9);
    const records = [
      { id: 'p1', version: 4, left: false, payload: new Uint8Array([1, 2, 3]), sig },
      { id: 'p2', version: 1.5, left: true, payload: new Uint8Array(0), sig },
    ];
    const deaths = [{ id: 'p3', version: 2 }];
    const suspects = [{ id: 'p4', version: 5, by: 'p1', lost: true, lostMs: 1250 }];
    const alives = [{ id: 'p5', version: 7, digest: new Uint8Array(32).fill(3), sig }];
    const viaFromObject = (obj: object) =>
      new Uint8Array(Frame.encode(Frame.fromObject(obj)).finish());
    expect(
      new Uint8Array(encodeFrame({ kind: 'gossip', records, deaths, suspects, alives, links: 6 })),
    ).toEqual(
      viaFromObject({
        version: MESH_FORMAT_VERSION,
        links: 6,
        gossip: { records, deaths, suspects, alives },
      }),
    );
    expect(
      new Uint8Array(
        encodeFrame({
          kind: 'entries',
          entries: [{ id: 'p1', version: 3, dead: true }],
          buckets: [1, 7],
          bucketCount: 8,
        }),
      ),
    ).toEqual(
      viaFromObject({
        version: MESH_FORMAT_VERSION,
        entries: {
          entries: [{ id: 'p1', version: 3, dead: true }],
          buckets: [1, 7],
          bucketCount: 8,
        },
      }),
    );
    expect(new Uint8Array(encodeFrame({ kind: 'ping-req', target: 'p2', nonce: 77 }))).toEqual(
      viaFromObject({ version: MESH_FORMAT_VERSION, pingReq: { target: 'p2', nonce: 77 } }),
    );
  });

  it('decodes absent fields to their defaults, each record a plain object', () => {
    const f = decodeFrame(
      encodeFrame({
        kind: 'gossip',
        records: [
          { id: 'p1', version: 1, left: false, payload: new Uint8Array(0), sig: new Uint8Array(0) },
        ],
        deaths: [{ id: 'p2', version: 3 }],
        suspects: [],
      }),
    );
    if (f.kind !== 'gossip') throw new Error(`decoded a ${f.kind} frame`);
    expect(Object.getPrototypeOf(f.records[0])).toBe(Object.prototype);
    expect(f.records[0]!.payload).toBeInstanceOf(Uint8Array);
    expect(f.records[0]!.payload.byteLength).toBe(0);
    expect(f.records[0]!.sig.byteLength).toBe(0);
    expect(f.deaths).toEqual([{ id: 'p2', version: 3, by: '', lost: false, lostMs: 0 }]);
    expect(f.alives).toEqual([]);
  });

  it('an alive is a fraction of the record it refreshes', () => {
    const payload = new Uint8Array(4096);
    const sig = new Uint8Array(64);
    const full = encodeFrame({
      kind: 'gossip',
      records: [{ id: 'p1', version: 2, left: false, payload, sig }],
      deaths: [],
      suspects: [],
    });
    const small = encodeFrame({
      kind: 'gossip',
      records: [],
      deaths: [],
      suspects: [],
      alives: [{ id: 'p1', version: 2, digest: new Uint8Array(32), sig }],
    });
    expect(small.byteLength).toBeLessThan(128);
    expect(full.byteLength).toBeGreaterThan(4096);
  });

  it('refuses another format version and malformed bytes with MismatchError', () => {
    const root = protobuf.Root.fromJSON({
      nested: {
        F: {
          fields: {
            version: { type: 'uint32', id: 1 },
            ping: { type: 'P', id: 6 },
          },
        },
        P: { fields: { nonce: { type: 'uint32', id: 1 } } },
      },
    });
    const F = root.lookupType('F');
    const other = F.encode(F.fromObject({ version: MESH_FORMAT_VERSION + 1, ping: { nonce: 1 } }));
    expect(() => decodeFrame(other.finish())).toThrow(MismatchError);
    expect(() => decodeFrame(other.finish())).toThrow(/format version 2/);
    expect(() => decodeFrame(new Uint8Array([0xff, 0xff, 0xff]))).toThrow(MismatchError);
    const empty = F.encode(F.fromObject({ version: MESH_FORMAT_VERSION })).finish();
    expect(() => decodeFrame(empty)).toThrow(/without a body/);
    expect(() =>
      decodePayload(encodePayload({ name: '', addrs: [], metadata: new Uint8Array() })),
    ).toThrow(/no agent name/);
  });

  it('derives the mDNS service tag from the cluster name', () => {
    expect(mdnsServiceTag('prod')).toBe(mdnsServiceTag('prod'));
    expect(mdnsServiceTag('prod')).not.toBe(mdnsServiceTag('staging'));
    expect(mdnsServiceTag('x'.repeat(64))).toMatch(/^_nixl-[0-9a-f]{12}\._udp\.local$/);
  });
});
