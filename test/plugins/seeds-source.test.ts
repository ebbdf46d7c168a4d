/**
 * The static seed list (plugins/seeds) between two real control nodes: a
 * joiner its seed let go of does not dial the seed again while it is
 * linking with members it knows (a seed at its link cap refers a joiner to
 * members and hangs up), and dials it again once it holds no connection and
 * dials none (within a bound: no connection closes to wake it then).
 */
import { afterEach, describe, expect, it } from 'vitest';

import { generateClusterKey, parseClusterKey } from '../../plugins/gossip/cluster-key.js';
import { createControlNode, type ControlNode } from '../../plugins/libp2p-node/index.js';
import { seeds } from '../../plugins/seeds/index.js';
import { createLogger } from '../../src/logger.js';

const KEY = parseClusterKey(generateClusterKey());
const nodes: ControlNode[] = [];
const stops: AbortController[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) s.abort();
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

async function node(): Promise<ControlNode> {
  const n = await createControlNode({
    listen: ['/ip4/127.0.0.1/tcp/0'],
    clusterKey: KEY,
    identify: false,
    pubsub: false,
  });
  nodes.push(n);
  return n;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('seeds source', { timeout: 30_000 }, () => {
  it('a joiner its seed let go of dials no seed while it links with members it knows, and dials again once it has neither', async () => {
    const seed = await node();
    const joiner = await node();
    const stop = new AbortController();
    stops.push(stop);
    // A member dial in progress, as the discovery reports it (linking()).
    let memberDial = false;
    let seedDials = 0;
    seeds([seed.getMultiaddrs()[0]!.toString()], { retryMs: 50, maxRetryMs: 5000 }).start!({
      cluster: 'seeds-source-test',
      node: joiner,
      dial: (addr, options) => {
        seedDials++;
        return joiner.dial(addr, options);
      },
      linking: () => joiner.getConnections().length > 0 || memberDial,
      log: createLogger('nixl-ts:seeds-source-test'),
      signal: stop.signal,
    });
    await until(() => seed.getConnections().length === 1, 'the joiner to reach its seed');
    expect(seedDials).toBe(1);
    // The seed refers the joiner to members and hangs up; the joiner is
    // dialing them meanwhile.
    memberDial = true;
    await seed.hangUp(joiner.peerId);
    await until(() => joiner.getConnections().length === 0, 'the hang-up to reach the joiner');
    // Several of the seeds' retry periods (50 ms, doubling to 5 s after a drop):
    // a seed dial would have come within the first 250 ms.
    await sleep(1500);
    expect(seedDials).toBe(1);
    expect(seed.getConnections()).toHaveLength(0);
    // Its member dials failed: no connection and none opening, so the seed
    // again, soon: no connection closes to wake a joiner that waits for one,
    // and waiting maxRetryMs (5 s) would leave it alone that long.
    memberDial = false;
    await until(
      () => seed.getConnections().length === 1,
      'the joiner to dial its seed again within 2 s',
      2000,
    );
    expect(seedDials).toBe(2);
  });
});
