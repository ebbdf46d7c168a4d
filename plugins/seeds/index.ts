/**
 * Static seed list: multiaddrs of a few agents to bootstrap from, for networks
 * where multicast is off (most datacenters). A joiner needs one seed: it dials
 * the seeds one at a time, in an order of its own (random), until one
 * answers, so a cluster start spreads its joiners over the seeds instead of
 * every joiner handshaking with every seed. A seed that resets the dial (up,
 * at its connection bound) is left longer, for a drawn wait, than one that
 * does not answer (see REFUSED_FIRST). The joiner syncs the directory
 * from that seed and then links to random members, so the seed may drop it
 * later (a seed keeps a bounded number of links like everyone). The seeds
 * themselves dial every other seed (a clique: the groups of joiners that
 * different seeds took in become one cluster). Seeds are dialed again only
 * when this node has no connection left and dials none (a partition, or a
 * cluster restarting; not a joiner its seed referred elsewhere, which links
 * with the members its seed named).
 */
import '../../src/polyfills.js';

import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';

import { InvalidParamError } from '../../src/errors.js';
import { resetAfterConnect } from '../libp2p-node/dial-failure.js';
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
      const others = parsed.filter((a) => !isSelf(ctx, a));
      if (!others.length) return;
      if (others.length < parsed.length) {
        for (const addr of others) void keepDialing(ctx, [addr], retryMs, maxRetryMs);
      } else {
        void keepDialing(ctx, shuffled(others), retryMs, maxRetryMs);
      }
    },
  };
}

function isSelf(ctx: PeerSourceContext, addr: Multiaddr): boolean {
  const s = addr.toString();
  const self = ctx.node.peerId.toString();
  if (s.includes(`/p2p/${self}`)) return true;
  return ctx.node.getMultiaddrs().some((own) => own.decapsulateCode(421).toString() === s);
}

/**
 * Resolves after `ms`, on abort, or, with `node`, when one of the node's
 * connections closes: while it is connected the seeds have nothing to do until
 * then (polling instead cost every agent a timer, an abort listener and a pass
 * over its connections every `retryMs`, ten times a second in a start).
 */
function sleep(ms: number, signal: AbortSignal, node?: PeerSourceContext['node']): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    node?.addEventListener('connection:close', done);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      node?.removeEventListener('connection:close', done);
      resolve();
    }
  });
}

/** How long a joiner that has never reached its seed keeps retrying at most 4 × retryMs apart. */
const JOIN_WINDOW_MS = 30_000;

/**
 * A seed that reset our dial is up and at its connection bound (it refuses
 * at accept, before any handshake). Its slots free as its joiners link
 * elsewhere, which takes a second or more, so the next dial (to the next
 * seed) waits 2 × retryMs, ×1.5 per refusal in a row up to 6 × retryMs,
 * each wait drawn in ±50 % so the refused joiners of a start come back
 * spread out. A refused dial costs both ends a few ms of CPU, and a start's
 * joiners dialed the full seeds 4-5 times each at the 250 ms → 1 s pace of
 * an unreachable one.
 */
const REFUSED_FIRST = 2;
const REFUSED_MAX = 6;

/** `ms` drawn uniformly in [0.5, 1.5) × ms. */
function jittered(ms: number): number {
  return ms * (0.5 + Math.random());
}

function shuffled<T>(xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const k = Math.floor(Math.random() * (i + 1));
    [out[i], out[k]] = [out[k]!, out[i]!];
  }
  return out;
}

/** An address that turned out to be this node's own: out of the rotation (false: none left). */
function dropSelf(addrs: Multiaddr[], at: number): boolean {
  addrs.splice(at % addrs.length, 1);
  return addrs.length > 0;
}

/**
 * Keeps this node joined through one of `addrs` for the lifetime of the
 * discovery: dials them in turn (the next one after a failure) until one
 * answers, and again when the node has no connection left.
 */
async function keepDialing(
  ctx: PeerSourceContext,
  addrs: Multiaddr[],
  retryMs: number,
  maxRetryMs: number,
) {
  let next = 0;
  let delay = retryMs;
  const firstRefusedDelay = Math.min(REFUSED_FIRST * retryMs, maxRetryMs);
  let refusedDelay = firstRefusedDelay;
  let peer: string | undefined;
  const started = Date.now();
  /**
   * Wait before redialing a seed that dropped us soon after we reached it
   * (a seed at its connection bound refers joiners to other members and
   * hangs up): doubles up to maxRetryMs while that repeats, so a joiner
   * links through the members it was referred to instead of handshaking
   * with the seed in a loop.
   */
  let rejoin = retryMs;
  let joinedAt = -Infinity;
  while (!ctx.signal.aborted) {
    const addr = addrs[next % addrs.length]!;
    // Once joined, the mesh keeps us connected; the seed is only for bootstrapping.
    const connected =
      peer !== undefined
        ? ctx.linking()
        : ctx.node
            .getConnections()
            .some((c) => c.remoteAddr.toString().startsWith(addr.toString()));
    if (!connected && peer !== undefined && Date.now() - joinedAt < maxRetryMs) {
      await sleep(rejoin, ctx.signal);
      rejoin = Math.min(2 * rejoin, maxRetryMs);
      if (ctx.linking()) continue;
    } else if (connected && Date.now() - joinedAt >= maxRetryMs) rejoin = retryMs;
    if (!connected) {
      // How long the dial took and the last step it reached (TCP connect, the
      // private network and noise, the muxer), for the debug log: a slow join
      // is a seed whose process answers its handshakes late.
      const dialStart = Date.now();
      let step = 'queued';
      try {
        const conn = await ctx.dial(addr, {
          signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(10_000)]),
          onProgress: (e: { type: string }) => {
            step = e.type;
          },
        });
        if (conn.remotePeer.toString() === ctx.node.peerId.toString()) {
          if (!dropSelf(addrs, next)) return;
          continue;
        }
        peer = conn.remotePeer.toString();
        joinedAt = Date.now();
        ctx.log('seed %s connected (%s) in %d ms', addr.toString(), peer, Date.now() - dialStart);
        delay = retryMs;
        refusedDelay = firstRefusedDelay;
      } catch (err) {
        if (ctx.signal.aborted) return;
        if (/dial self/i.test(String((err as Error)?.message))) {
          if (!dropSelf(addrs, next)) return;
          continue;
        }
        ctx.log(
          'seed %s not reachable after %d ms (last step %s): %s',
          addr.toString(),
          Date.now() - dialStart,
          step,
          (err as Error)?.message,
        );
        next++;
        if (resetAfterConnect(err)) {
          await sleep(jittered(refusedDelay), ctx.signal);
          refusedDelay = Math.min(refusedDelay * 1.5, REFUSED_MAX * retryMs, maxRetryMs);
          continue;
        }
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
    // Connected: nothing changes until a connection closes. Only dialing
    // members a seed referred us to: look again soon, for those dials may
    // fail without any connection closing.
    if (ctx.node.getConnections().length > 0) await sleep(maxRetryMs, ctx.signal, ctx.node);
    else await sleep(retryMs, ctx.signal);
  }
}
