/** The discovery wire format and the mDNS service tag. */
import { describe, expect, it } from 'vitest';
import protobuf from 'protobufjs';

import { MismatchError } from '../../src/errors.js';
import {
  DISCOVERY_FORMAT_VERSION,
  decodeFetchRequest,
  decodeFetchResponse,
  decodeGossip,
  encodeFetchRequest,
  encodeFetchResponse,
  encodeGossip,
  topicFor,
} from '../../plugins/gossip/wire.js';
import { mdnsServiceTag } from '../../plugins/mdns/index.js';

const V = DISCOVERY_FORMAT_VERSION;
/** Bytes decode as Buffers in Node: compare plain Uint8Arrays. */
const plain = (o: any): any =>
  o instanceof Uint8Array
    ? new Uint8Array(o)
    : Array.isArray(o)
      ? o.map(plain)
      : o && typeof o === 'object'
        ? Object.fromEntries(Object.entries(o).map(([k, v]) => [k, plain(v)]))
        : o;

describe('discovery wire format', () => {
  it('round-trips every message', () => {
    const md = new Uint8Array([1, 2, 3, 250]);
    const res = {
      version: V,
      cluster: 'c',
      error: '',
      seq: 7,
      metadata: md,
      peers: [{ peerId: 'p1', addrs: ['/ip4/127.0.0.1/tcp/1'] }],
    };
    expect(plain(decodeFetchResponse(encodeFetchResponse(res)))).toEqual(res);
    expect(decodeFetchRequest(encodeFetchRequest({ version: V, cluster: 'c' }))).toEqual({
      version: V,
      cluster: 'c',
    });
    const bodies = [
      { kind: 'hello', addrs: ['/ip4/1.2.3.4/tcp/5'], seq: 3, peers: [{ peerId: 'x', addrs: [] }] },
      { kind: 'update', seq: 4, full: true, metadata: md },
      { kind: 'tombstone' },
    ] as const;
    for (const body of bodies) {
      const msg = { version: V, cluster: 'c', agent: 'a', body };
      expect(plain(decodeGossip(encodeGossip(msg as any)))).toEqual(msg);
    }
  });

  it('refuses another format version and malformed bytes with MismatchError', () => {
    const other = encodeGossip({
      version: V + 1,
      cluster: 'c',
      agent: 'a',
      body: { kind: 'tombstone' },
    });
    expect(() => decodeGossip(other)).toThrow(MismatchError);
    expect(() => decodeGossip(other)).toThrow(/format version 2/);
    expect(() => decodeFetchRequest(encodeFetchRequest({ version: 0, cluster: 'c' }))).toThrow(
      MismatchError,
    );
    expect(() => decodeGossip(new Uint8Array([0xff, 0xff, 0xff]))).toThrow(MismatchError);
    // A message without a body, or without an agent name, is refused too.
    const root = protobuf.Root.fromJSON({
      nested: {
        M: { fields: { version: { type: 'uint32', id: 1 }, agent: { type: 'string', id: 3 } } },
      },
    });
    const M = root.lookupType('M');
    expect(() => decodeGossip(M.encode(M.fromObject({ version: V, agent: 'a' })).finish())).toThrow(
      /without a body/,
    );
  });

  it('derives topic and mDNS service tag from the cluster name', () => {
    expect(topicFor('a')).not.toBe(topicFor('b'));
    expect(mdnsServiceTag('prod')).toBe(mdnsServiceTag('prod'));
    expect(mdnsServiceTag('prod')).not.toBe(mdnsServiceTag('staging'));
    expect(mdnsServiceTag('x'.repeat(64))).toMatch(/^_nixl-[0-9a-f]{12}\._udp\.local$/);
  });
});
