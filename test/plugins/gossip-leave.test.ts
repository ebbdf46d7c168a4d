/**
 * A leaving member's tombstone from another process reaches a member whose
 * event loop is busy while the leaver closes and exits: the leaver waits for
 * its links to confirm reading it, and publishes nothing after it (a busy
 * member's late probe once made the leaver refute a suspicion, which brought
 * it back to life everywhere).
 */
import { fileURLToPath } from 'node:url';

import { afterEach, describe, expect, it } from 'vitest';

import { JsonLineChild, type JsonLineReply } from '../../testing/json-line-child.js';
import {
  TEST_CLUSTER_KEY,
  closeAll,
  seedOf,
  startAgent,
  until,
  type TestAgent,
} from './helpers.js';

const MEMBER = fileURLToPath(new URL('./member-process.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const agents: TestAgent[] = [];
const children: JsonLineChild<JsonLineReply, { event: string }>[] = [];
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.close().catch(() => {})));
  await closeAll(agents.splice(0));
});

/** Keeps this thread busy (no event loop turn) for `ms`. */
function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end);
}

describe('a leaving member in another process', { timeout: 90_000 }, () => {
  it('is invalidated by its tombstone even if this member was busy while it exited', async () => {
    // Grace of a minute: only the tombstone can invalidate b within the test.
    const a = await startAgent('a', { graceMs: 60_000 });
    agents.push(a);
    const b = new JsonLineChild<JsonLineReply, { event: string }>(
      MEMBER,
      'member b',
      {},
      {
        args: [
          JSON.stringify({
            name: 'b',
            clusterKey: TEST_CLUSTER_KEY,
            seed: seedOf(a),
            graceMs: 60_000,
          }),
        ],
        cwd: ROOT,
        ...(process.env.MEMBER_DEBUG ? { stderr: 'inherit' as const } : {}),
      },
    );
    children.push(b);
    await b.nextEvent('ready', 60_000);
    await until(() => a.agent.checkRemoteMD('b'), 'b to join', 30_000);

    const closing = b.nextEvent('closing', 10_000);
    const closed = b.send({ cmd: 'close' }, 30_000);
    await closing;
    // b sends its tombstone and stops while this loop reads nothing.
    busy(1500);
    await closed;
    await until(() => !a.agent.checkRemoteMD('b'), 'b to be invalidated', 10_000);
    // Nothing b sent while it waited to stop brings it back.
    await new Promise((r) => setTimeout(r, 2000));
    expect(a.agent.checkRemoteMD('b')).toBe(false);
    expect(a.events).toContain('peer:leave b');
    b.endInput();
    expect(await b.waitForExit(10_000)).toBe(0);
  });
});
