/**
 * Static seed list: multiaddrs of a few agents to bootstrap from, for networks
 * where multicast is off (most datacenters). Each seed is dialed until it
 * answers; the joiner syncs the directory from it and then links to random
 * members, so a seed may drop it later (a seed keeps a bounded number of
 * links like everyone). Seeds are dialed again only when this node has no
 * connection left (a partition, or a cluster restarting).
 */
import '../../src/polyfills.js';

import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';

import { InvalidParamError } from '../../src/errors.js';
import type { PeerSource, PeerSourceContext } from '../libp2p-node/peer-source.js';

export interface SeedsOptions {
  /** First retry delay after a failed dial; doubles up to `maxRetryMs`. */
  retryMs?: number;
  maxRetryMs?: number;
}

export function seeds(addrs: readonly string[], opts: SeedsOptions = {}): PeerSource {
  if (!Array.isArray(addrs)) {
    throw new InvalidParamError('seeds() takes an array of multiaddr strings', { op: 'seeds' });
  }
  const parsed: Multiaddr[] = addrs.map((a) => {
    try {
      return multiaddr(a);
    } catch (err) {
      throw new InvalidParamError(`seed '${a}' is not a valid multiaddr`, {
        op: 'seeds',
        cause: err,
      });
    }
  });
  const retryMs = opts.retryMs ?? 250;
  const maxRetryMs = opts.maxRetryMs ?? 5000;
  if (!(retryMs > 0) || !(maxRetryMs >= retryMs)) {
    throw new InvalidParamError('seeds: retryMs must be > 0 and maxRetryMs >= retryMs', {
      op: 'seeds',
    });
  }
  return {
    kind: 'seeds',
    start(ctx) {
      for (const addr of parsed) void keepDialing(ctx, addr, retryMs, maxRetryMs);
    },
  };
}

function isSelf(ctx: PeerSourceContext, addr: Multiaddr): boolean {
  const s = addr.toString();
  const self = ctx.node.peerId.toString();
  if (s.includes(`/p2p/${self}`)) return true;
  return ctx.node.getMultiaddrs().some((own) => own.decapsulateCode(421).toString() === s);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

/** How long a joiner that has never reached its seed keeps retrying at most 4 × retryMs apart. */
const JOIN_WINDOW_MS = 30_000;

/** Keeps one seed connected for the lifetime of the discovery. */
async function keepDialing(
  ctx: PeerSourceContext,
  addr: Multiaddr,
  retryMs: number,
  maxRetryMs: number,
) {
  let delay = retryMs;
  let peer: string | undefined;
  const started = Date.now();
  while (!ctx.signal.aborted) {
    if (isSelf(ctx, addr)) return;
    // Once joined, the mesh keeps us connected; the seed is only for bootstrapping.
    const connected =
      peer !== undefined
        ? ctx.node.getConnections().length > 0
        : ctx.node
            .getConnections()
            .some((c) => c.remoteAddr.toString().startsWith(addr.toString()));
    if (!connected) {
      try {
        const conn = await ctx.node.dial(addr, {
          signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(10_000)]),
        });
        peer = conn.remotePeer.toString();
        if (peer === ctx.node.peerId.toString()) return;
        ctx.log('seed %s connected (%s)', addr.toString(), peer);
        delay = retryMs;
      } catch (err) {
        if (ctx.signal.aborted) return;
        if (/dial self/i.test(String((err as Error)?.message))) return;
        ctx.log('seed %s not reachable: %s', addr.toString(), (err as Error)?.message);
        await sleep(delay, ctx.signal);
        // Until the seed has been reached once, retry briskly (a cluster starting
        // at once: the seed is usually up within seconds, and every second a
        // joiner backs off is a second the cluster waits for it); after that, or
        // past JOIN_WINDOW_MS, back off to maxRetryMs.
        const joining = peer === undefined && Date.now() - started < JOIN_WINDOW_MS;
        delay = joining
          ? Math.min(delay * 1.5, 4 * retryMs, maxRetryMs)
          : Math.min(delay * 2, maxRetryMs);
        continue;
      }
    }
    await sleep(retryMs, ctx.signal);
  }
}
