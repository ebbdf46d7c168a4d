/**
 * LAN discovery through libp2p mDNS. The service tag is derived from the
 * cluster name, so clusters on one LAN never see each other. Under test,
 * mDNS refuses to start in the machine's own network namespace: multicast
 * from tests stays inside namespaces the tests created.
 */
import '../../src/polyfills.js';

import { createHash } from 'node:crypto';
import { readlinkSync } from 'node:fs';

import type { PeerInfo } from '@libp2p/interface';

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

/** The kernel's initial network namespace (PROC_NET_INIT_INO), the same on every Linux. */
const INIT_NET = 'net:[4026531833]';

/**
 * Throws NotAllowedError when this process is under test and still in the
 * host's network namespace, i.e. not in a namespace of the test's own: the
 * namespace of PID 1 where it can be read, else the kernel's initial one (and
 * then the test that made the namespace must also say so: NIXL_TEST_NETNS=1).
 */
export function assertMdnsAllowed(): void {
  if (!underTest()) return;
  let self: string;
  try {
    self = readlinkSync('/proc/self/ns/net');
  } catch (err) {
    throw new NotAllowedError('mDNS under test: cannot read /proc/self/ns/net', {
      op: 'mdns',
      cause: err,
    });
  }
  let init: string | undefined;
  try {
    init = readlinkSync('/proc/1/ns/net');
  } catch {
    // Not readable in some sandboxes even as root.
  }
  const inHost =
    init !== undefined ? self === init : self === INIT_NET || process.env.NIXL_TEST_NETNS !== '1';
  if (inHost) {
    throw new NotAllowedError(
      `mDNS refused under test in the host's network namespace (${self}); ` +
        'run it inside a namespace the test creates (unshare -n / ip netns, with NIXL_TEST_NETNS=1)',
      { op: 'mdns' },
    );
  }
}

export function mdns(opts: MdnsOptions = {}): PeerSource {
  const intervalMs = opts.intervalMs ?? 10_000;
  if (!(intervalMs >= 50))
    throw new InvalidParamError('mdns: intervalMs must be >= 50', { op: 'mdns' });
  return {
    kind: 'mdns',
    async peerDiscovery(cluster, room) {
      assertMdnsAllowed();
      const { LanDiscovery } = await import('./lan-discovery.js');
      const serviceTag = mdnsServiceTag(cluster);
      const busy = room ? () => room.busy() : undefined;
      const heard = room ? (peer: PeerInfo) => room.heard(peer) : undefined;
      return [
        (components) =>
          new LanDiscovery(components, { serviceTag, intervalMs, busy, heard }) as any,
      ];
    },
  };
}
