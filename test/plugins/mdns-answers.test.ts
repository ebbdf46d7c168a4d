/**
 * What the gossip discovery keeps of mDNS answers: each peer passed into the
 * peer store once per query period (OncePerPeer), and the peers found kept as
 * candidates for an agent that has no link yet (FoundPeers).
 */
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { PeerId } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { describe, expect, it } from 'vitest';

import { FoundPeers } from '../../plugins/gossip/found-peers.js';
import { OncePerPeer } from '../../plugins/mdns/once-per-peer.js';

async function peerId(): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'));
}

/** The answers a libp2p mDNS service would dispatch, one per call. */
class Answers extends EventTarget {
  answer(id: PeerId, ...addrs: string[]): void {
    this.dispatchEvent(
      new CustomEvent('peer', { detail: { id, multiaddrs: addrs.map((a) => multiaddr(a)) } }),
    );
  }
}

function passedThrough(windowMs: number, maxPeers = 64) {
  const answers = new Answers();
  const filter = new OncePerPeer(answers as any, windowMs, maxPeers);
  const passed: string[] = [];
  filter.addEventListener('peer', (e) => passed.push((e as CustomEvent).detail.id.toString()));
  return { answers, filter, passed };
}

describe('mDNS answers into the peer store', () => {
  it('passes a peer once per period, and again at once when its addresses change', async () => {
    const [p, q] = [await peerId(), await peerId()];
    const { answers, filter, passed } = passedThrough(60_000);
    for (let i = 0; i < 31; i++) answers.answer(p, '/ip4/10.0.0.1/tcp/4001');
    answers.answer(q, '/ip4/10.0.0.2/tcp/4001');
    expect(passed).toEqual([p.toString(), q.toString()]);
    // The same addresses in another order are the same answer.
    answers.answer(p, '/ip4/10.0.0.1/tcp/4001');
    answers.answer(p, '/ip4/10.0.0.1/tcp/4002');
    expect(passed).toEqual([p.toString(), q.toString(), p.toString()]);
    expect(filter.counts).toEqual({ heard: 34, passed: 3 });
    expect(filter.listenerCount('peer')).toBe(1);
  });

  it('passes a repeated answer again after the period', async () => {
    const p = await peerId();
    const { answers, passed } = passedThrough(30);
    answers.answer(p, '/ip4/10.0.0.1/tcp/4001');
    answers.answer(p, '/ip4/10.0.0.1/tcp/4001');
    await new Promise((r) => setTimeout(r, 60));
    answers.answer(p, '/ip4/10.0.0.1/tcp/4001');
    expect(passed).toHaveLength(2);
  });

  it('remembers at most maxPeers peers: the oldest is forgotten and passed again', async () => {
    const ids = await Promise.all([peerId(), peerId(), peerId()]);
    const { answers, passed } = passedThrough(60_000, 2);
    for (const id of ids) answers.answer(id, '/ip4/10.0.0.1/tcp/4001');
    answers.answer(ids[2]!, '/ip4/10.0.0.1/tcp/4001');
    answers.answer(ids[0]!, '/ip4/10.0.0.1/tcp/4001');
    expect(passed).toEqual([...ids, ids[0]].map((id) => id!.toString()));
  });
});

describe('peers found on the LAN, kept for an agent with no link', () => {
  it('picks distinct usable peers at random, and holds at most max', () => {
    const found = new FoundPeers(4);
    for (const id of ['a', 'b', 'c', 'd', 'e', 'b']) found.add(id);
    expect(found.size).toBe(4);
    expect([...found.ids()].sort()).toEqual(['b', 'c', 'd', 'e']);
    for (let i = 0; i < 20; i++) {
      const picked = found.pick(2, (id) => id !== 'c');
      expect(picked).toHaveLength(2);
      expect(new Set(picked).size).toBe(2);
      expect(picked).not.toContain('c');
    }
    expect(found.pick(10, () => true).sort()).toEqual(['b', 'c', 'd', 'e']);
    found.delete('d');
    expect(found.pick(10, (id) => id !== 'b').sort()).toEqual(['c', 'e']);
  });
});
