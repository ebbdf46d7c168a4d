/**
 * Loading remote metadata in bulk: regions are sorted once, checked in one
 * pass and merged into the peer's registry, whatever order they arrive in;
 * inconsistent metadata and metadata past the per-peer region cap
 * (maxRemoteRegions) are refused with MismatchError and load nothing.
 * In one process, over a pure-TypeScript remote-capable backend that counts
 * the handles it makes and unloads; every case runs twice, with the backend
 * loading region by region (loadRemoteMD) and in batches (loadRemoteRegions).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import {
  BACKEND_API_VERSION,
  type Backend,
  type BackendMD,
  type BackendPlugin,
  type RemoteHandles,
  type RemoteRegionDesc,
} from '../../src/backend.js';
import type { MemType } from '../../src/descriptors.js';
import { InvalidParamError, MismatchError } from '../../src/errors.js';
import { encodeMetadata, type AgentMetadata, type RegionMetadata } from '../../src/metadata.js';

/** What a fake backend saw: live handles (made and not unloaded) and calls. */
interface Ledger {
  live: Set<object>;
  loads: number;
  conns: number;
}

/** How the fake backends load regions: one call per region, or one per batch. */
let mode: 'per-region' | 'batch' = 'per-region';

/** A remote-capable backend that transfers nothing and keeps a ledger. */
function fakeRemote(name: string, ledger: Ledger): BackendPlugin {
  const loadOne = (desc: RemoteRegionDesc) => {
    // Public data of 3 bytes is what this backend cannot read.
    if (desc.publicData.length === 3) throw new Error('unreadable public data');
    ledger.loads++;
    const md = { ...desc, publicData: Uint8Array.from(desc.publicData) };
    ledger.live.add(md);
    return md;
  };
  const batchMethods: Partial<Backend> = {
    loadRemoteRegions: (_agent, batch) => {
      for (let i = 0; i < batch.count; i++) {
        if (batch.pdRanges[2 * i + 1]! - batch.pdRanges[2 * i]! === 3) {
          throw new Error('unreadable public data');
        }
      }
      const mds: BackendMD[] = [];
      for (let i = 0; i < batch.count; i++) {
        const pd = batch.publicData.slice(batch.pdRanges[2 * i], batch.pdRanges[2 * i + 1]);
        mds.push(
          loadOne({
            memType: batch.memType,
            addr: batch.addrs[i]!,
            len: batch.lens[i]!,
            devId: batch.devIds[i]!,
            publicData: pd,
          }),
        );
      }
      return { count: mds.length, at: (i: number) => mds[i]!, mds } as RemoteHandles;
    },
    unloadRemoteRegions: (h) => {
      for (const md of (h as unknown as { mds: object[] }).mds) ledger.live.delete(md);
    },
  };
  return {
    apiVersion: BACKEND_API_VERSION,
    name,
    version: '1.0.0',
    mems: ['DRAM', 'VRAM'],
    defaultParams: {},
    async create(params) {
      const b: Backend = {
        type: name,
        capabilities: { local: false, remote: true, notif: true, mems: ['DRAM', 'VRAM'] },
        params,
        registerMem: () => ({}),
        deregisterMem: () => {},
        getConnInfo: () => new TextEncoder().encode(name),
        getPublicData: () => new Uint8Array(0),
        loadRemoteConnInfo: () => void ledger.conns++,
        loadRemoteMD: (_agent: string, desc: RemoteRegionDesc) => loadOne(desc),
        ...(mode === 'batch' ? batchMethods : {}),
        unloadMD: (md) => void ledger.live.delete(md),
        connect: async () => {},
        disconnect: async () => {},
        prepXfer: () => ({}),
        postXfer: () => 0,
        checkXfer: () => 0,
        releaseXfer: () => {},
        genNotif: () => {},
        close: async () => {},
      };
      return b;
    },
  };
}

const open: Agent[] = [];
afterEach(async () => {
  for (const a of open.splice(0)) await a.close();
});

async function loader(opts: { maxRemoteRegions?: number; backends?: string[] } = {}) {
  const ledgers = new Map<string, Ledger>();
  const a = await Agent.create({ name: `loader-${open.length}`, ...opts, backends: [] });
  open.push(a);
  for (const name of opts.backends ?? ['FAKE']) {
    const ledger: Ledger = { live: new Set(), loads: 0, conns: 0 };
    ledgers.set(name, ledger);
    a.addPlugin(fakeRemote(name, ledger));
    await a.createBackend(name);
  }
  return { a, ledger: ledgers.get(opts.backends?.[0] ?? 'FAKE')!, ledgers };
}

const AGENT_ID = new Uint8Array(16).fill(7);

function metadata(
  sections: { backend?: string; memType?: MemType; regions: RegionMetadata[] }[],
  extra: Partial<AgentMetadata> = {},
): Uint8Array {
  const backends = new Set(sections.map((s) => s.backend ?? 'FAKE'));
  return encodeMetadata({
    name: 'peer',
    agentId: AGENT_ID,
    hostId: 'host',
    partial: false,
    conns: [...(backends.size ? backends : ['FAKE'])].map((backend) => ({
      backend,
      connInfo: new TextEncoder().encode(backend),
    })),
    sections: sections.map((s) => ({
      backend: s.backend ?? 'FAKE',
      memType: s.memType ?? 'DRAM',
      regions: s.regions,
    })),
    labels: new Map(),
    ...extra,
  });
}

/** n regions of 4 KiB with gaps, on `devices` devices, with distinct public data. */
function regions(n: number, { base = 0x7f00_0000_0000, devices = 1, tag = 0 } = {}) {
  const out: RegionMetadata[] = [];
  for (let i = 0; i < n; i++) {
    const pd = new Uint8Array(8);
    new DataView(pd.buffer).setUint32(0, i, true);
    new DataView(pd.buffer).setUint32(4, tag, true);
    out.push({ addr: base + i * 8192, len: 4096, devId: i % devices, publicData: pd });
  }
  return out;
}

function shuffled<T>(xs: readonly T[], seed = 1): T[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The peer's regions as the agent holds them, in registry order. */
function held(a: Agent, memType: MemType = 'DRAM') {
  return [...a.getRemoteRegions('peer', memType)].map((d) => [d.devId, Number(d.addr), d.len]);
}

/** The handles a backend holds, as (devId, addr, len, first public-data word), sorted. */
function handles(ledger: Ledger) {
  return [...ledger.live]
    .map((md: any) => [
      md.devId,
      md.addr,
      md.len,
      new DataView(md.publicData.buffer).getUint32(0, true),
    ])
    .sort((x, y) => x[0]! - y[0]! || x[1]! - y[1]!);
}

describe.each(['per-region', 'batch'] as const)('%s loads', (m) => {
  beforeAll(() => {
    mode = m;
  });

  describe('bulk metadata loads', () => {
    it('unsorted regions give the same registry and handles as sorted ones', async () => {
      const list = regions(20_000, { devices: 3 });
      const vram = regions(500, { base: 0x1000, tag: 1 });
      const sorted = await loader();
      sorted.a.loadRemoteMD(metadata([{ regions: list }, { memType: 'VRAM', regions: vram }]));
      const unsorted = await loader();
      unsorted.a.loadRemoteMD(
        metadata([{ regions: shuffled(list) }, { memType: 'VRAM', regions: shuffled(vram, 2) }]),
      );
      expect(held(unsorted.a)).toEqual(held(sorted.a));
      expect(held(unsorted.a, 'VRAM')).toEqual(held(sorted.a, 'VRAM'));
      expect(held(unsorted.a).length).toBe(20_000);
      // Registry order: by device, then address.
      const order = held(unsorted.a);
      for (let i = 1; i < order.length; i++) {
        const [d0, a0] = order[i - 1]!;
        const [d1, a1] = order[i]!;
        expect(d0! < d1! || (d0 === d1 && a0! < a1!)).toBe(true);
      }
      expect(handles(unsorted.ledger)).toEqual(handles(sorted.ledger));
      expect(unsorted.ledger.live.size).toBe(20_500);
      // Every region is found by a transfer descriptor inside it.
      const r = list[12_345]!;
      const inside = [{ addr: BigInt(r.addr + 100), len: 10, devId: r.devId }];
      expect(unsorted.a.checkRemoteMD('peer', inside)).toBe(true);
      expect(unsorted.a.checkRemoteMD('peer', [{ addr: BigInt(r.addr + 4096), len: 1 }])).toBe(
        false,
      );
    });

    it('several backends describing the same regions share them', async () => {
      const { a, ledgers } = await loader({ backends: ['FAKE', 'OTHER'] });
      const list = regions(1000);
      a.loadRemoteMD(
        metadata([
          { backend: 'FAKE', regions: shuffled(list) },
          { backend: 'OTHER', regions: list },
        ]),
      );
      expect(held(a).length).toBe(1000);
      expect(ledgers.get('FAKE')!.live.size).toBe(1000);
      expect(ledgers.get('OTHER')!.live.size).toBe(1000);
      a.invalidateRemoteMD('peer');
      expect(ledgers.get('FAKE')!.live.size).toBe(0);
      expect(ledgers.get('OTHER')!.live.size).toBe(0);
    });

    it('a region listed twice with the same public data loads once', async () => {
      const { a, ledger } = await loader();
      const list = regions(10);
      a.loadRemoteMD(metadata([{ regions: [...list, list[3]!, list[7]!] }]));
      expect(held(a).length).toBe(10);
      expect(ledger.live.size).toBe(10);
    });

    it('a 100,000-region load completes', async () => {
      const { a, ledger } = await loader();
      const list = shuffled(regions(100_000, { devices: 2 }), 3);
      a.loadRemoteMD(metadata([{ regions: list }]));
      expect(a.getRemoteRegions('peer').length).toBe(100_000);
      expect(ledger.live.size).toBe(100_000);
      const last = list.reduce((m, r) => (r.addr > m.addr ? r : m));
      expect(a.checkRemoteMD('peer', [{ addr: BigInt(last.addr), len: 4096, devId: 1 }])).toBe(
        true,
      );
    }, 60_000);
  });

  describe('inconsistent metadata loads nothing', () => {
    const cases: [string, () => RegionMetadata[][]][] = [
      [
        'overlapping regions',
        () => {
          const list = regions(1000);
          return [shuffled([...list, { ...list[500]!, addr: list[500]!.addr + 100 }])];
        },
      ],
      [
        'a region inside another',
        () => [
          [
            ...regions(100),
            {
              addr: 0x7f00_0000_0000 + 8192 * 50 + 8,
              len: 8,
              devId: 0,
              publicData: new Uint8Array(8),
            },
          ],
        ],
      ],
      [
        'two regions at one address',
        () => {
          const list = regions(100);
          return [[{ ...list[40]!, len: 100 }, ...list]];
        },
      ],
      [
        'one region twice with different public data',
        () => {
          const list = regions(100);
          return [[...list, { ...list[60]!, publicData: new Uint8Array(8).fill(1) }]];
        },
      ],
      [
        'two backends disagreeing on a length',
        () => {
          const list = regions(100);
          return [list, list.map((r, i) => (i === 99 ? { ...r, len: 5000 } : r))];
        },
      ],
    ];

    for (const [what, make] of cases) {
      it(what, async () => {
        const { a, ledgers } = await loader({ backends: ['FAKE', 'OTHER'] });
        const lists = make();
        const blob = metadata(
          lists.map((regionList, i) => ({ backend: i ? 'OTHER' : 'FAKE', regions: regionList })),
        );
        expect(() => a.loadRemoteMD(blob)).toThrow(MismatchError);
        expect(a.remoteAgents).toEqual([]);
        for (const l of ledgers.values()) expect(l.live.size).toBe(0);
      });
    }

    it('a refused full reload keeps what was known', async () => {
      const { a, ledger } = await loader();
      const list = regions(100);
      a.loadRemoteMD(metadata([{ regions: list }]));
      const before = held(a);
      const bad = [...regions(200, { tag: 1 }), { ...list[10]!, addr: list[10]!.addr + 1 }];
      expect(() => a.loadRemoteMD(metadata([{ regions: bad }]))).toThrow(/overlaps/);
      expect(held(a)).toEqual(before);
      expect(ledger.live.size).toBe(100);
    });
  });

  describe('a backend refusing a region', () => {
    const unreadable = (r: RegionMetadata) => ({ ...r, publicData: new Uint8Array(3) });

    it('unloads every handle the load made', async () => {
      const { a, ledgers } = await loader({ backends: ['FAKE', 'OTHER'] });
      const list = regions(1000);
      const blob = metadata([
        { backend: 'FAKE', regions: shuffled(list) },
        { backend: 'OTHER', regions: list.map((r, i) => (i === 999 ? unreadable(r) : r)) },
      ]);
      expect(() => a.loadRemoteMD(blob)).toThrow(/was refused: unreadable public data/);
      expect(a.remoteAgents).toEqual([]);
      expect(ledgers.get('FAKE')!.loads).toBe(1000);
      for (const l of ledgers.values()) expect(l.live.size).toBe(0);
    });

    it('in partial metadata, leaves the known regions and their handles as they were', async () => {
      const { a, ledgers } = await loader({ backends: ['FAKE', 'OTHER'] });
      const list = regions(100);
      a.loadRemoteMD(metadata([{ backend: 'FAKE', regions: list.slice(0, 50) }]));
      const known = [...ledgers.get('FAKE')!.live];
      // OTHER adds itself to the 50 known regions and 49 new ones, then refuses the last.
      const blob = metadata(
        [
          { backend: 'FAKE', regions: list.slice(50) },
          { backend: 'OTHER', regions: list.map((r, i) => (i === 99 ? unreadable(r) : r)) },
        ],
        { partial: true },
      );
      expect(() => a.loadRemoteMD(blob)).toThrow(MismatchError);
      expect(held(a).length).toBe(50);
      expect([...ledgers.get('FAKE')!.live]).toEqual(known);
      expect(ledgers.get('OTHER')!.live.size).toBe(0);
      // And a later good load still works.
      a.loadRemoteMD(
        metadata(
          [
            { backend: 'FAKE', regions: list.slice(50) },
            { backend: 'OTHER', regions: list },
          ],
          { partial: true },
        ),
      );
      expect(held(a).length).toBe(100);
      expect(ledgers.get('OTHER')!.live.size).toBe(100);
    });
  });

  describe('partial metadata', () => {
    it('adds regions, in any order, to what is known', async () => {
      const { a, ledger } = await loader();
      const all = regions(3000);
      a.loadRemoteMD(metadata([{ regions: all.filter((_, i) => i % 3 === 0) }]));
      a.loadRemoteMD(
        metadata([{ regions: shuffled(all.filter((_, i) => i % 3 === 1)) }], { partial: true }),
      );
      expect(held(a).length).toBe(2000);
      // Known regions may be repeated with the same public data; new ones are added.
      a.loadRemoteMD(metadata([{ regions: shuffled(all) }], { partial: true, conns: [] }));
      expect(held(a)).toEqual(all.map((r) => [0, r.addr, r.len]));
      expect(ledger.live.size).toBe(3000);
    });

    it('refuses regions that overlap or change known ones, and adds none of them', async () => {
      const { a, ledger } = await loader();
      const list = regions(100);
      a.loadRemoteMD(metadata([{ regions: list.slice(0, 50) }]));
      const overlapping = [...list.slice(50), { ...list[20]!, addr: list[20]!.addr - 8 }];
      expect(() => a.loadRemoteMD(metadata([{ regions: overlapping }], { partial: true }))).toThrow(
        MismatchError,
      );
      const changed = [...list.slice(50), { ...list[20]!, publicData: new Uint8Array(8) }];
      expect(() => a.loadRemoteMD(metadata([{ regions: changed }], { partial: true }))).toThrow(
        /changed its public data/,
      );
      expect(held(a).length).toBe(50);
      expect(ledger.live.size).toBe(50);
    });
  });

  describe('maxRemoteRegions', () => {
    it('is validated at creation', async () => {
      for (const bad of [-1, 1.5, Number.NaN, 2 ** 60]) {
        await expect(Agent.create({ name: 'x', maxRemoteRegions: bad })).rejects.toThrow(
          InvalidParamError,
        );
      }
    });

    it('refuses a section past the cap from its count, before any region is read', async () => {
      const { a, ledger } = await loader({ maxRemoteRegions: 100 });
      expect(() => a.loadRemoteMD(metadata([{ regions: regions(101) }]))).toThrow(
        /lists 101 FAKE\/DRAM regions; this agent keeps at most 100 per peer \(maxRemoteRegions\)/,
      );
      expect(a.remoteAgents).toEqual([]);
      expect(ledger.loads).toBe(0);
      expect(ledger.conns).toBe(0);
      a.loadRemoteMD(metadata([{ regions: regions(100) }]));
      expect(held(a).length).toBe(100);
    });

    it('counts a peer’s regions over all memory types and loads', async () => {
      const { a, ledger } = await loader({ maxRemoteRegions: 100 });
      const twoTypes = metadata([
        { regions: regions(60) },
        { memType: 'VRAM', regions: regions(60) },
      ]);
      const err = (() => {
        try {
          a.loadRemoteMD(twoTypes);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(MismatchError);
      expect((err as Error).message).toMatch(/would leave 120 regions/);
      expect(a.remoteAgents).toEqual([]);
      expect(ledger.loads).toBe(0);

      const list = regions(150);
      a.loadRemoteMD(metadata([{ regions: list.slice(0, 60) }]));
      expect(() =>
        a.loadRemoteMD(metadata([{ regions: list.slice(60, 110) }], { partial: true })),
      ).toThrow(/would leave 110 regions/);
      expect(held(a).length).toBe(60);
      expect(ledger.live.size).toBe(60);
      // Known regions do not count twice.
      a.loadRemoteMD(metadata([{ regions: list.slice(20, 100) }], { partial: true }));
      expect(held(a).length).toBe(100);
      // A full reload replaces: only its own regions count.
      a.loadRemoteMD(metadata([{ regions: list.slice(50, 150) }]));
      expect(held(a).length).toBe(100);
    });

    it('does not count sections of backends this agent lacks', async () => {
      const { a } = await loader({ maxRemoteRegions: 10 });
      a.loadRemoteMD(
        metadata([
          { backend: 'FAKE', regions: regions(5) },
          { backend: 'ELSEWHERE', regions: regions(1000) },
        ]),
      );
      expect(held(a).length).toBe(5);
    });
  });
});
