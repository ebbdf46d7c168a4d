/**
 * The control plane's framing below the mesh: the length prefixes
 * (plugins/libp2p-node/length-prefix.ts) read and write what libp2p's own
 * codecs do, noise connections of control nodes get the quiet decoder, and a
 * stream under half-window updates (window-updates.ts) grants credit only
 * after half its window, yet a sender writing past a whole window is never
 * held: everything arrives.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as varint from 'uint8-varint';
import { Uint8ArrayList } from 'uint8arraylist';
import { lpStream } from '@libp2p/utils';

import { generateClusterKey, parseClusterKey } from '../../plugins/gossip/cluster-key.js';
import { createControlNode, type ControlNode } from '../../plugins/libp2p-node/index.js';
import {
  quietDecoders,
  uint16BELength,
  varintLength,
} from '../../plugins/libp2p-node/length-prefix.js';
import { halfWindowUpdates } from '../../plugins/libp2p-node/window-updates.js';
import { seededInts } from '../../testing/pattern.js';

const KEY = parseClusterKey(generateClusterKey());
const PROTOCOL = '/nixl-ts/framing-test/1';
const nodes: ControlNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

/** Every way a decoder may see the bytes: whole, and split over a list of pieces. */
function shapes(bytes: Uint8Array): (Uint8Array | Uint8ArrayList)[] {
  const out: (Uint8Array | Uint8ArrayList)[] = [bytes];
  for (let cut = 1; cut < bytes.byteLength; cut++)
    out.push(new Uint8ArrayList(bytes.subarray(0, cut), bytes.subarray(cut)));
  return out;
}

describe('length prefixes', () => {
  it('read 16-bit lengths as noise does, and ask for more on fewer than 2 bytes', () => {
    const next = seededInts(7);
    for (let i = 0; i < 500; i++) {
      const n = next(65536);
      const bytes = new Uint8Array([n >> 8, n & 0xff, 1, 2]);
      for (const s of shapes(bytes)) expect(uint16BELength(s)).toBe(n);
      expect(() => uint16BELength(bytes.subarray(0, 1))).toThrow(RangeError);
      expect(() => uint16BELength(new Uint8ArrayList(bytes.subarray(0, 1)))).toThrow(RangeError);
    }
    expect(() => uint16BELength(new Uint8Array(0))).toThrow(RangeError);
  });

  it('read varints as uint8-varint does; a truncated one asks for more', () => {
    const next = seededInts(11);
    const values = [0, 1, 127, 128, 300, 16383, 16384, 2 ** 21, 2 ** 28, 2 ** 31 - 1, 2 ** 40];
    for (let i = 0; i < 500; i++) values.push(next(1 << 30));
    for (const n of values) {
      const prefix = varint.encode(n);
      const bytes = new Uint8Array([...prefix, 9, 9]);
      for (const s of shapes(bytes)) expect(varintLength(s)).toBe(n);
      for (let cut = 0; cut < prefix.byteLength; cut++) {
        expect(() => varintLength(bytes.subarray(0, cut))).toThrow(RangeError);
        expect(() => varintLength(new Uint8ArrayList(bytes.subarray(0, cut)))).toThrow(RangeError);
      }
    }
  });

  it('refuse a varint of more than 8 bytes (an error that ends the stream, not "more")', () => {
    const endless = new Uint8Array(12).fill(0x80);
    expect(() => varintLength(endless.subarray(0, 7))).toThrow(RangeError);
    let err: unknown;
    try {
      varintLength(endless);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(RangeError);
  });
});

describe('control connections', () => {
  async function pair() {
    const make = () =>
      createControlNode({
        listen: ['/ip4/127.0.0.1/tcp/0'],
        clusterKey: KEY,
        pubsub: false,
        identify: false,
      });
    const [a, b] = await Promise.all([make(), make()]);
    nodes.push(a, b);
    return [a, b] as const;
  }

  it('get the quiet noise decoder on both sides', async () => {
    const [a, b] = await pair();
    const before = quietDecoders.installed;
    await a.dial(b.getMultiaddrs()[0]!);
    for (let i = 0; i < 200 && quietDecoders.installed < before + 2; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(quietDecoders.installed).toBe(before + 2);
  });

  it('under half-window updates: no credit before half the window, and 4 windows arrive whole', async () => {
    const [a, b] = await pair();
    const got: Uint8Array[] = [];
    let applied = false;
    await b.handle(PROTOCOL, async (stream: any) => {
      applied = halfWindowUpdates(stream);
      const lp = lpStream(stream, { maxDataLength: 1 << 20 });
      try {
        for (;;) got.push((await lp.read()).subarray());
      } catch {
        // the dialer closed
      }
    });
    const stream: any = await a.dialProtocol(b.getMultiaddrs()[0]!, PROTOCOL);
    const lp = lpStream(stream);
    const frame = (i: number) => new Uint8Array(1024).fill(i & 0xff);
    const arrived = async (n: number) => {
      for (let i = 0; i < 1000 && got.length < n; i++) await new Promise((r) => setTimeout(r, 10));
      expect(got.length).toBe(n);
    };
    await lp.write(frame(0));
    await arrived(1);
    expect(applied).toBe(true);
    // Established: 20 more frames (about 20 KiB, under half the 256 KiB window) earn no credit.
    const window = stream.sendWindowCapacity as number;
    for (let i = 1; i <= 20; i++) await lp.write(frame(i));
    await arrived(21);
    await new Promise((r) => setTimeout(r, 100));
    expect(stream.sendWindowCapacity).toBeLessThan(window - 20 * 1024);
    // Four windows' worth: credit comes as half windows are used, nothing stalls.
    const total = 21 + 1024;
    for (let i = 21; i < total; i++) await lp.write(frame(i));
    await arrived(total);
    for (let i = 0; i < total; i++) expect(got[i]![0]).toBe(i & 0xff);
    expect(stream.sendWindowCapacity).toBeGreaterThan(0);
    await stream.close();
  });
});
