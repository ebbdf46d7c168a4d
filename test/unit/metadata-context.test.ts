/**
 * The metadata context alone (what discovery and metadata plugins see):
 * this agent's metadata built from a local section, labels, registration
 * changes, and peers' metadata going into the remote sections.
 */
import { describe, expect, it } from 'vitest';

import type { Backend } from '../../src/backend.js';
import type { PeerEventKind, RegistrationChange } from '../../src/discovery.js';
import { NotAllowedError, NotFoundError, type NixlError } from '../../src/errors.js';
import { LocalSection } from '../../src/local-section.js';
import { createLogger } from '../../src/logger.js';
import { MetadataContext } from '../../src/metadata-context.js';
import { decodeMetadata } from '../../src/metadata.js';
import { toRegDescList } from '../../src/memory-input.js';
import { RemoteSections } from '../../src/remote-sections.js';
import { fakeRemote, ledger, localBackend, peerMD, regions } from './section-fixtures.js';

async function context() {
  const backends: Backend[] = [await localBackend('me'), fakeRemote('FAKE', ledger())];
  const local = new LocalSection();
  const remote = new RemoteSections({
    agentName: 'me',
    backends,
    maxRegions: 100,
    log: createLogger('test'),
  });
  const events: [PeerEventKind | 'error', string][] = [];
  let closed = false;
  const meta = new MetadataContext({
    name: 'me',
    agentId: new Uint8Array(16).fill(3),
    hostId: 'host',
    log: createLogger('test:discovery'),
    backends,
    local,
    remote,
    checkOpen: (op) => {
      if (closed) throw new NotAllowedError('the agent is closed', { op });
    },
    isClosed: () => closed,
    selectBackends: (names) => (names ? backends.filter((b) => names.includes(b.type)) : backends),
    emit: (kind, name) => events.push([kind, name]),
    emitError: (e: NixlError) => events.push(['error', e.message]),
  });
  return { meta, local, remote, backends, events, close: () => (closed = true) };
}

describe('MetadataContext', () => {
  it("publishes the remote-capable backends' regions, connection info and labels", async () => {
    const { meta, local, backends } = await context();
    const list = toRegDescList([Buffer.alloc(64), Buffer.alloc(32)]);
    local.register(list, backends, { op: 'registerMem' });
    meta.setLabel('layout', new Uint8Array([42]));
    const md = decodeMetadata(meta.getLocalMD());
    expect(md.name).toBe('me');
    expect(md.partial).toBe(false);
    expect(md.conns.map((c) => c.backend)).toEqual(['FAKE']); // LOCAL is not remote-capable
    expect(md.sections).toHaveLength(1);
    expect(md.sections[0]!.regions.map((r) => r.len).sort()).toEqual([32, 64]);
    expect(md.labels.get('layout')).toEqual(new Uint8Array([42]));

    // What discovery gossips: the regions named, connection info, every label.
    const one = toRegDescList(list.views[0]!);
    const partial = decodeMetadata(meta.getLocalPartialMD(one));
    expect(partial.partial).toBe(true);
    expect(partial.conns).toHaveLength(1);
    expect(partial.sections[0]!.regions).toHaveLength(1);
    expect([...partial.labels.keys()]).toEqual(['layout']);
    expect(() => meta.partialMD(null, { labels: ['nope'] })).toThrow(NotFoundError);
  });

  it('tells listeners of registration changes until they unsubscribe', async () => {
    const { meta, local, backends } = await context();
    const seen: RegistrationChange[] = [];
    const off = meta.onRegistrationChange((c) => seen.push(c));
    const regs = local.register(toRegDescList(Buffer.alloc(16)), backends, { op: 'r' });
    meta.notifyRegistration('register', regs);
    meta.notifyRegistration('deregister', []); // nothing changed: nothing told
    off();
    meta.notifyRegistration('deregister', regs);
    expect(seen.map((c) => [c.kind, c.descs.length])).toEqual([['register', 1]]);
  });

  it('loads and invalidates peers, and emits peer events and errors on the agent', async () => {
    const { meta, remote, events, close } = await context();
    expect(meta.loadRemoteMD(peerMD('p', 'FAKE', regions(2)))).toBe('p');
    expect(meta.checkRemoteMD('p')).toBe(true);
    expect(remote.get('p')!.regionCount).toBe(2);
    meta.emitPeerEvent('peer:join', 'p');
    meta.invalidateRemoteMD('p');
    expect(meta.checkRemoteMD('p')).toBe(false);
    meta.emitError(new NotAllowedError('taken name'));
    expect(events).toEqual([
      ['peer:join', 'p'],
      ['error', 'taken name'],
    ]);
    meta.loadRemoteMD(peerMD('p', 'FAKE', regions(1)));
    close();
    expect(meta.checkRemoteMD('p')).toBe(false);
    expect(() => meta.getLocalMD()).toThrow(NotAllowedError);
  });
});
