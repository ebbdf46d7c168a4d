/**
 * LAN discovery through libp2p mDNS. The service tag is derived from the
 * cluster name, so clusters on one LAN never see each other. Under test,
 * mDNS refuses to start in the machine's own network namespace: multicast
 * from tests stays inside namespaces the tests created.
 */
import '../../src/polyfills.js';

import { createHash } from 'node:crypto';
import { readlinkSync } from 'node:fs';

import { InvalidParamError, NotAllowedError } from '../../src/errors.js';
import type { PeerSource } from '../libp2p-node/peer-source.js';

export interface MdnsOptions {
  /** Re-query period; discovery mostly comes from the query sent at start. */
  intervalMs?: number;
}

/** `_nixl-<12 hex of sha256(cluster)>._udp.local`: a valid DNS label for any cluster name. */
export function mdnsServiceTag(cluster: string): string {
  const digest = createHash('sha256').update(cluster, 'utf8').digest('hex').slice(0, 12);
  return `_nixl-${digest}._udp.local`;
}

function underTest(): boolean {
  return process.env.NODE_ENV === 'test' || process.env.VITEST !== undefined;
}

/**
 * Throws NotAllowedError when this process is under test and still in the
 * namespace of PID 1 (the host's), i.e. not in a namespace of the test's own.
 */
export function assertMdnsAllowed(): void {
  if (!underTest()) return;
  let self: string;
  let init: string;
  try {
    self = readlinkSync('/proc/self/ns/net');
    init = readlinkSync('/proc/1/ns/net');
  } catch (err) {
    throw new NotAllowedError('mDNS under test: cannot read the network namespace (/proc/*/ns/net)', {
      op: 'mdns',
      cause: err,
    });
  }
  if (self === init) {
    throw new NotAllowedError(
      `mDNS refused under test in the host's network namespace (${self}); ` +
        'run it inside a namespace the test creates (unshare -n / ip netns)',
      { op: 'mdns' },
    );
  }
}

export function mdns(opts: MdnsOptions = {}): PeerSource {
  const intervalMs = opts.intervalMs ?? 1000;
  if (!(intervalMs >= 50)) throw new InvalidParamError('mdns: intervalMs must be >= 50', { op: 'mdns' });
  return {
    kind: 'mdns',
    async peerDiscovery(cluster) {
      assertMdnsAllowed();
      const { mdns: libp2pMdns } = await import('@libp2p/mdns');
      return [libp2pMdns({ interval: intervalMs, serviceTag: mdnsServiceTag(cluster) })];
    },
  };
}
