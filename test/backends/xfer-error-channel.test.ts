/**
 * nixl:xfer:error on diagnostics_channel: a WRITE that the target refuses
 * (its region was deregistered after the initiator loaded its metadata)
 * publishes one error event, after the post event and with no done event,
 * carrying the same error the caller's promise rejects with.
 */
import diagnostics_channel from 'node:diagnostics_channel';

import { afterEach, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { NixlError } from '../../src/errors.js';
import type { XferEvent } from '../../src/xfer-observer.js';

const TCP = { type: 'TCP', params: { port: '0', same_host: 'off', timeout_ms: '5000' } };
const open: Agent[] = [];
afterEach(async () => {
  for (const a of open.splice(0)) await a.close();
});

describe('nixl:xfer:error', () => {
  it('a refused WRITE publishes post then error, with the error the caller sees', async () => {
    const target = await Agent.create({ name: 'e-target', backends: [TCP] });
    const initiator = await Agent.create({ name: 'e-init', backends: [TCP] });
    open.push(initiator, target);
    const dstReg = target.registerMem(target.alloc(1 << 16).buffer);
    const src = initiator.registerMem(initiator.alloc(1 << 16).buffer);
    initiator.loadRemoteMD(target.getLocalMD());
    const dst = dstReg.descs.at(0);
    target.deregisterMem(dstReg);

    const seen: [string, XferEvent][] = [];
    const subs = ['post', 'done', 'error'].map((k) => {
      const fn = (msg: unknown) => seen.push([k, msg as XferEvent]);
      diagnostics_channel.subscribe(`nixl:xfer:${k}`, fn);
      return () => diagnostics_channel.unsubscribe(`nixl:xfer:${k}`, fn);
    });
    let caught: unknown;
    try {
      await initiator.write(
        [{ addr: src.descs.at(0).addr, len: 4096 }],
        [{ addr: dst.addr, len: 4096 }],
        'e-target',
      );
    } catch (err) {
      caught = err;
    } finally {
      for (const u of subs) u();
    }
    expect(caught).toBeInstanceOf(NixlError);
    expect(seen.map(([k]) => k)).toEqual(['post', 'error']);
    const [, post] = seen[0]!;
    const [, error] = seen[1]!;
    expect(error).toMatchObject({
      agent: 'e-init',
      op: 'WRITE',
      remoteAgent: 'e-target',
      backend: 'TCP',
      bytes: 4096,
      descCount: 1,
    });
    expect(error.request).toBe(post.request);
    expect(error.error).toBe(caught);
  }, 30_000);
});
