/**
 * The simulation counts a frame's bytes without encoding every record again
 * (bench/discovery/sim/frame-bytes.ts): the count must be the encoded size.
 */
import { describe, expect, it } from 'vitest';

import { frameBytes } from '../../bench/discovery/sim/frame-bytes.js';
import type { MeshMessage, SignedRecord } from '../../plugins/gossip/membership.js';
import { encodeFrame } from '../../plugins/gossip/mesh-wire.js';

const record = (i: number, payloadBytes: number): SignedRecord => ({
  id: `m${String(i).padStart(5, '0')}`,
  version: 1 + (i % 7) * 1000.5,
  left: i % 5 === 0,
  payload: new Uint8Array(payloadBytes).fill(i & 0xff),
  sig: new Uint8Array(64),
});

describe('simulation frame bytes', () => {
  it('equal the encoded frame for gossip of 0 to 5000 records of any size, with links, deaths, suspects, alives and room', () => {
    const records = Array.from({ length: 5000 }, (_, i) =>
      record(i, [0, 1, 100, 512, 20_000][i % 5]!),
    );
    for (const count of [0, 1, 3, 4, 5, 17, 100, 1000, 5000]) {
      for (const links of [undefined, 1, 300]) {
        const plain: MeshMessage = {
          kind: 'gossip',
          records: records.slice(0, count),
          deaths: [],
          suspects: [],
          links,
        };
        const full: MeshMessage = {
          ...plain,
          deaths: [{ id: 'm1', version: 3 }],
          suspects: [{ id: 'm2', version: 4, by: 'm3', lost: true, lostMs: 250 }],
          alives: [{ id: 'm4', version: 5, digest: new Uint8Array(32), sig: new Uint8Array(64) }],
          room: ['m5', 'm6'],
        };
        for (const msg of [plain, full])
          expect(frameBytes(msg), `${count} records`).toBe(encodeFrame(msg).byteLength);
      }
    }
  });

  it('equal the encoded frame for the other kinds', () => {
    const msgs: MeshMessage[] = [
      {
        kind: 'digest',
        hash: '0123456789abcdef',
        count: 10_000,
        buckets: new Uint8Array(1024),
        links: 4,
      },
      {
        kind: 'entries',
        entries: [{ id: 'm1', version: 2, dead: true }],
        buckets: [1, 2],
        bucketCount: 8,
      },
      { kind: 'pull', ids: ['m1', 'm2'] },
      { kind: 'ping', nonce: 7 },
      { kind: 'unlink', links: 9 },
    ];
    for (const msg of msgs) expect(frameBytes(msg)).toBe(encodeFrame(msg).byteLength);
  });
});
