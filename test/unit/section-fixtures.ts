/**
 * What the unit tests of the agent's parts (local section, remote sections,
 * metadata context, request building) drive them with, without an Agent: a
 * LOCAL backend, a remote-capable fake that keeps a ledger of its handles,
 * and peers' metadata.
 */
import { plugin as localPlugin } from '../../backends/local/index.js';
import type { Backend, BackendComponents, RemoteRegionDesc } from '../../src/backend.js';
import { createLogger } from '../../src/logger.js';
import { encodeMetadata, type AgentMetadata, type RegionMetadata } from '../../src/metadata.js';

export function components(agentName: string): BackendComponents {
  return {
    agentName,
    agentId: new Uint8Array(16).fill(1),
    hostId: 'host',
    log: createLogger(`test:${agentName}`),
    onNotifs: () => {},
    onDisconnect: () => {},
  };
}

/** A LOCAL backend of an agent called `agentName`. */
export function localBackend(agentName: string): Promise<Backend> {
  return localPlugin.create({ ...localPlugin.defaultParams }, components(agentName));
}

/** What a fake remote backend made and did not unload, and its calls. */
export interface Ledger {
  live: Set<object>;
  loads: number;
  conns: number;
  disconnects: string[];
}

export function ledger(): Ledger {
  return { live: new Set(), loads: 0, conns: 0, disconnects: [] };
}

/** A remote-capable backend that transfers nothing and records its handles. */
export function fakeRemote(type: string, l: Ledger, opts: { failRegister?: number } = {}): Backend {
  let registers = 0;
  return {
    type,
    capabilities: { local: false, remote: true, notif: true, mems: ['DRAM', 'VRAM'] },
    params: {},
    registerMem: (desc) => {
      // Refuses the failRegister-th registration (1-based).
      if (++registers === opts.failRegister) throw new Error('refused by the test');
      const md = { addr: desc.addr };
      l.live.add(md);
      return md;
    },
    deregisterMem: (md) => void l.live.delete(md),
    getConnInfo: () => new TextEncoder().encode(type),
    getPublicData: (md) => new TextEncoder().encode(String((md as { addr: number }).addr)),
    loadRemoteConnInfo: () => void l.conns++,
    loadRemoteMD: (_agent: string, desc: RemoteRegionDesc) => {
      l.loads++;
      const md = { ...desc };
      l.live.add(md);
      return md;
    },
    unloadMD: (md) => void l.live.delete(md),
    connect: async () => {},
    disconnect: async (agent) => void l.disconnects.push(agent),
    prepXfer: () => ({}),
    postXfer: () => 0,
    checkXfer: () => 0,
    releaseXfer: () => {},
    genNotif: () => {},
    close: async () => {},
  };
}

/** `n` regions of 4 KiB with gaps, from `base`, public data naming the index and `tag`. */
export function regions(n: number, base = 0x7f00_0000_0000, tag = 0): RegionMetadata[] {
  const out: RegionMetadata[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      addr: base + i * 8192,
      len: 4096,
      devId: 0,
      publicData: new TextEncoder().encode(`${tag}:${i}`),
    });
  }
  return out;
}

/** A peer's metadata for backend `backend` (connection info included unless `partial` says otherwise). */
export function peerMD(
  name: string,
  backend: string,
  rs: RegionMetadata[],
  extra: Partial<AgentMetadata> = {},
): Uint8Array {
  return encodeMetadata({
    name,
    agentId: new Uint8Array(16).fill(7),
    hostId: 'host',
    partial: false,
    conns: [{ backend, connInfo: new TextEncoder().encode(backend) }],
    sections: rs.length ? [{ backend, memType: 'DRAM', regions: rs }] : [],
    labels: new Map(),
    ...extra,
  });
}
