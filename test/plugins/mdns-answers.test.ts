/**
 * What the gossip discovery keeps of mDNS answers: each peer passed into the
 * peer store once per query period (OncePerPeer), and the peers found kept as
 * candidates for an agent that has no link yet (FoundPeers).
 */
import { describe, expect, it } from 'vitest';

import { FoundPeers } from '../../plugins/gossip/found-peers.js';
import { onLocalLink } from '../../plugins/mdns/lan-discovery.js';
import { OncePerPeer } from '../../plugins/mdns/once-per-peer.js';

describe('mDNS answers into the peer store', () => {
  it('passes a peer once per period, and again at once when its addresses change', () => {
    const f = new OncePerPeer(60_000, 64);
    const a1 = ['/ip4/10.0.0.1/tcp/4001/p2p/P'];
    const passed = Array.from({ length: 31 }, () => f.pass('P', a1));
    expect(passed.filter(Boolean)).toHaveLength(1);
    expect(f.pass('Q', ['/ip4/10.0.0.2/tcp/4001/p2p/Q'])).toBe(true);
    // The same addresses in another order are the same answer.
    const two = ['/ip4/10.0.0.1/tcp/4001/p2p/R', '/ip4/10.0.0.9/tcp/4001/p2p/R'];
    expect(f.pass('R', two)).toBe(true);
    expect(f.pass('R', [...two].reverse())).toBe(false);
    expect(f.pass('P', ['/ip4/10.0.0.1/tcp/4002/p2p/P'])).toBe(true);
  });

  it('passes a repeated answer again after the period', async () => {
    const f = new OncePerPeer(30, 64);
    expect(f.pass('P', ['/ip4/10.0.0.1/tcp/4001/p2p/P'])).toBe(true);
    expect(f.pass('P', ['/ip4/10.0.0.1/tcp/4001/p2p/P'])).toBe(false);
    await new Promise((r) => setTimeout(r, 60));
    expect(f.pass('P', ['/ip4/10.0.0.1/tcp/4001/p2p/P'])).toBe(true);
  });

  it('remembers at most maxPeers peers: the oldest is forgotten and passed again', () => {
    const f = new OncePerPeer(60_000, 2);
    for (const id of ['A', 'B', 'C']) expect(f.pass(id, [id])).toBe(true);
    expect(f.pass('C', ['C'])).toBe(false);
    expect(f.pass('A', ['A'])).toBe(true);
  });
});

describe('peers found on the LAN, kept for an agent with no link', () => {
  it('picks distinct usable peers at random, and holds at most max', () => {
    const found = new FoundPeers(4);
    for (const id of ['a', 'b', 'c', 'd', 'e', 'b'])
      found.add(id, [`/ip4/10.0.0.1/tcp/1/p2p/${id}`]);
    expect(found.size).toBe(4);
    expect([...found.ids()].sort()).toEqual(['b', 'c', 'd', 'e']);
    for (let i = 0; i < 20; i++) {
      const picked = found.pick(2, (id) => id !== 'c');
      expect(picked).toHaveLength(2);
      expect(new Set(picked).size).toBe(2);
      expect(picked).not.toContain('c');
    }
    expect(found.pick(10, () => true).sort()).toEqual(['b', 'c', 'd', 'e']);
    // The addresses dials use: the last announced; an empty list keeps them.
    found.add('c', ['/ip4/10.0.0.2/tcp/2/p2p/c']);
    found.add('c', []);
    expect(found.addrsOf('c')).toEqual(['/ip4/10.0.0.2/tcp/2/p2p/c']);
    expect(found.addrsOf('a')).toEqual([]);
    found.delete('d');
    expect(found.pick(10, (id) => id !== 'b').sort()).toEqual(['c', 'e']);
  });

  it('dates each peer by its last answer, and picks one usable peer at random', () => {
    const found = new FoundPeers(8);
    found.add('a', ['/ip4/10.0.0.1/tcp/1/p2p/a'], 1000);
    found.add('b', ['/ip4/10.0.0.1/tcp/2/p2p/b'], 5000);
    expect(found.heardWithin('a', 4000, 5000)).toBe(true);
    expect(found.heardWithin('a', 3999, 5000)).toBe(false);
    expect(found.heardWithin('x', 1e9, 5000)).toBe(false);
    // A later answer dates it anew (with or without addresses).
    found.add('a', [], 9000);
    expect(found.heardWithin('a', 0, 9000)).toBe(true);
    found.delete('a');
    expect(found.heardWithin('a', 1e9, 9000)).toBe(false);
    expect(found.pick(1, () => false)[0]).toBeUndefined();
    const picked = new Set<string>();
    for (const id of ['c', 'd', 'e']) found.add(id, [`/ip4/10.0.0.1/tcp/3/p2p/${id}`]);
    for (let i = 0; i < 200; i++) picked.add(found.pick(1, (id) => id !== 'd')[0]!);
    expect([...picked].sort()).toEqual(['b', 'c', 'e']);
  });
});

describe("legacy unicast answers go only to this host's links", () => {
  it('answers an address in the subnet of one of our interfaces, not one outside', () => {
    expect(onLocalLink('127.0.0.1')).toBe(true);
    expect(onLocalLink('127.9.9.9')).toBe(true);
    // TEST-NET-3 (RFC 5737): on no interface of a test machine.
    expect(onLocalLink('203.0.113.7')).toBe(false);
    expect(onLocalLink('not an address')).toBe(false);
  });
});
