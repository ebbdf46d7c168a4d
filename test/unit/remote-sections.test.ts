/**
 * The remote sections alone, over a fake remote-capable backend: full loads
 * replace a peer with a new generation, partial loads add to it, the region
 * cap refuses and keeps what was known, a restarted peer is replaced, and
 * dropping, invalidating and waiting for peers.
 */
import { describe, expect, it } from 'vitest';

import type { Backend } from '../../src/backend.js';
import { DescList } from '../../src/descriptors.js';
import {
  CanceledError,
  InvalidParamError,
  MismatchError,
  NotFoundError,
} from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { RemoteSections } from '../../src/remote-sections.js';
import { fakeRemote, ledger, peerMD, regions } from './section-fixtures.js';

function sections(maxRegions = 1000) {
  const l = ledger();
  const backends: Backend[] = [fakeRemote('FAKE', l)];
  const remote = new RemoteSections({
    agentName: 'me',
    backends,
    maxRegions,
    log: createLogger('test:remote'),
  });
  return { remote, l, backends };
}

describe('RemoteSections', () => {
  it('full loads replace a peer with a new generation; partial loads add to it', () => {
    const { remote, l } = sections();
    const loaded: string[] = [];
    remote.onLoaded((n) => loaded.push(n));
    expect(remote.load(peerMD('p', 'FAKE', regions(3)))).toBe('p');
    const g1 = remote.get('p')!.generation;
    expect(remote.get('p')!.regionCount).toBe(3);
    remote.load(peerMD('p', 'FAKE', regions(2, 0x1000_0000), { partial: true }));
    expect(remote.get('p')!.generation).toBe(g1);
    expect(remote.get('p')!.regionCount).toBe(5);
    remote.load(peerMD('p', 'FAKE', regions(1)));
    const g2 = remote.get('p')!.generation;
    expect(g2).not.toBe(g1);
    expect(remote.get('p')!.regionCount).toBe(1);
    expect(l.live.size).toBe(1); // the replaced peer's handles were unloaded
    expect(() => remote.checkGeneration('p', g1, 'postXferReq')).toThrow(/was reloaded/);
    remote.checkGeneration('p', g2, 'postXferReq');
    expect(loaded).toEqual(['p', 'p', 'p']);
  });

  it('replaces a restarted peer (new agentId) even by partial metadata with connection info', () => {
    const { remote } = sections();
    remote.load(peerMD('p', 'FAKE', regions(3)));
    const old = remote.get('p')!;
    remote.load(
      peerMD('p', 'FAKE', regions(1, 0x2000_0000), {
        partial: true,
        agentId: new Uint8Array(16).fill(9),
      }),
    );
    const fresh = remote.get('p')!;
    expect(fresh).not.toBe(old);
    expect(fresh.generation).toBeGreaterThan(old.generation);
    expect(fresh.regionCount).toBe(1);
  });

  it('refuses metadata past the region cap and keeps what was known', () => {
    const { remote, l } = sections(4);
    remote.load(peerMD('p', 'FAKE', regions(3)));
    expect(() =>
      remote.load(peerMD('p', 'FAKE', regions(2, 0x1000_0000), { partial: true })),
    ).toThrow(MismatchError);
    expect(() => remote.load(peerMD('p', 'FAKE', regions(5)))).toThrow(/maxRemoteRegions/);
    expect(remote.get('p')!.regionCount).toBe(3);
    expect(l.live.size).toBe(3);
  });

  it("refuses this agent's own metadata", () => {
    const { remote } = sections();
    expect(() => remote.load(peerMD('me', 'FAKE', regions(1)))).toThrow(InvalidParamError);
  });

  it('checks coverage, lists regions and labels, invalidates and drops failed peers', () => {
    const { remote, l } = sections();
    remote.load(
      peerMD('p', 'FAKE', regions(2), { labels: new Map([['kv', new Uint8Array([1])]]) }),
    );
    const inside = DescList.from('DRAM', [{ addr: 0x7f00_0000_0000 + 8192 + 16, len: 32 }]);
    const outside = DescList.from('DRAM', [{ addr: 0x7f00_0000_0000 + 4096, len: 32 }]);
    expect(remote.check('p', inside)).toBe(true);
    expect(remote.check('p', outside)).toBe(false);
    expect(remote.regionsOf('p', 'DRAM').length).toBe(2);
    expect([...remote.label('p', 'kv')!]).toEqual([1]);
    const g = remote.get('p')!.generation;
    expect(remote.dropFailed('p', g + 1)).toBe(false); // another generation failed
    expect(remote.dropFailed('p', g)).toBe(true);
    expect(remote.has('p')).toBe(false);
    expect(l.live.size).toBe(0);
    expect(l.disconnects).toEqual(['p']);
    expect(() => remote.invalidate('p')).toThrow(NotFoundError);
  });

  it('waits for a peer until it is loaded, or ends on abort', async () => {
    const { remote } = sections();
    const waiting = remote.waitFor('p');
    remote.load(peerMD('p', 'FAKE', regions(1)));
    await waiting;
    await remote.waitFor('p'); // known already
    const ac = new AbortController();
    const never = remote.waitFor('q', ac.signal);
    ac.abort();
    await expect(never).rejects.toBeInstanceOf(CanceledError);
    await expect(remote.waitFor('q', AbortSignal.timeout(10))).rejects.toThrow(/timed out/);
  });
});
