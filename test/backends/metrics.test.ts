/**
 * Metrics and tracing over real TCP transfers between two agents on
 * 127.0.0.1: the nixl_* families scraped from a prom-client Registry count
 * exactly the bytes and transfers that moved, the histograms one sample per
 * completion, the gauges what is registered and loaded; the
 * nixl:xfer:* diagnostics_channel events arrive once per post.
 */
import diagnostics_channel from 'node:diagnostics_channel';

import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import type { XferEvent } from '../../src/xfer-observer.js';

const TCP = { type: 'TCP', params: { port: '0', same_host: 'off', timeout_ms: '5000' } };
const open: Agent[] = [];
afterEach(async () => {
  for (const a of open.splice(0)) await a.close();
});

async function pair(registry: Registry) {
  const target = await Agent.create({ name: 'm-target', backends: [TCP] });
  const initiator = await Agent.create({ name: 'm-init', backends: [TCP], metrics: registry });
  open.push(initiator, target);
  const dst = target.registerMem(target.alloc(1 << 20).buffer);
  const src = initiator.registerMem(initiator.alloc(1 << 20).buffer);
  initiator.loadRemoteMD(target.getLocalMD());
  return { initiator, target, src: src.descs.at(0).addr, dst: dst.descs.at(0).addr };
}

/** One sample's value from a scrape, by metric name and labels. */
async function value(reg: Registry, name: string, labels: Record<string, string>) {
  const json = await reg.getMetricsAsJSON();
  for (const m of json)
    for (const v of m.values as { metricName?: string; labels: object; value: number }[]) {
      const n = v.metricName ?? m.name;
      if (n !== name) continue;
      if (Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x))
        return v.value;
    }
  return undefined;
}

describe('metrics', () => {
  it('count what moved over TCP, per agent and backend', async () => {
    const reg = new Registry();
    const { initiator, src, dst } = await pair(reg);
    const at = (a: bigint, len: number) => [{ addr: a, len }];
    for (let i = 0; i < 3; i++) await initiator.write(at(src, 65536), at(dst, 65536), 'm-target');
    const req = initiator.createXferReq('READ', at(src, 4096), at(dst + 4096n, 4096), 'm-target');
    for (let i = 0; i < 2; i++) {
      initiator.postXferReq(req);
      await req.done;
    }
    req.release();

    const l = { agent: 'm-init', backend: 'TCP' };
    expect(await value(reg, 'nixl_agent_tx_bytes_total', l)).toBe(3 * 65536);
    expect(await value(reg, 'nixl_agent_tx_requests_num_total', l)).toBe(3);
    expect(await value(reg, 'nixl_agent_rx_bytes_total', l)).toBe(2 * 4096);
    expect(await value(reg, 'nixl_agent_rx_requests_num_total', l)).toBe(2);
    const w = { ...l, op: 'WRITE' };
    expect(await value(reg, 'nixl_agent_xfer_time_seconds_count', w)).toBe(3);
    expect(await value(reg, 'nixl_agent_xfer_post_time_seconds_count', w)).toBe(3);
    expect(await value(reg, 'nixl_agent_xfer_time_seconds_count', { ...l, op: 'READ' })).toBe(2);
    expect(await value(reg, 'nixl_agent_xfer_time_seconds_sum', w)).toBeGreaterThan(0);
    expect(await value(reg, 'nixl_agent_memory_registered_bytes', l)).toBe(1 << 20);
    expect(await value(reg, 'nixl_agent_peers_connected', l)).toBe(1);
    // The target was created without metrics: nothing of it appears.
    expect(await value(reg, 'nixl_agent_memory_registered_bytes', { agent: 'm-target' })).toBe(
      undefined,
    );
    const text = await reg.metrics();
    expect(text).toContain('nixl_agent_tx_bytes_total{agent="m-init",backend="TCP"} 196608');

    // A failed transfer is counted by its status: the peer's metadata is gone.
    initiator.invalidateRemoteMD('m-target');
    initiator.loadRemoteMD(open[1]!.getLocalMD());
    await open[1]!.close();
    await expect(initiator.write(at(src, 4096), at(dst, 4096), 'm-target')).rejects.toThrow();
    const errors = (await reg.getMetricsAsJSON()).find((m) => m.name === 'nixl_agent_errors_total');
    const total = errors!.values.reduce((s, v) => s + v.value, 0);
    expect(total).toBe(1);
    expect(errors!.values[0]!.labels).toMatchObject({ agent: 'm-init', backend: 'TCP' });
    expect(String(errors!.values[0]!.labels.status)).toMatch(/^NIXL_ERR_/);

    await initiator.close();
    expect(await value(reg, 'nixl_agent_peers_connected', l)).toBe(undefined);
  }, 30_000);

  it('nixl:xfer:post, done and error reach diagnostics_channel subscribers', async () => {
    const reg = new Registry();
    const { initiator, src, dst } = await pair(reg);
    const seen: [string, XferEvent][] = [];
    const subs = ['post', 'done', 'error'].map((k) => {
      const fn = (msg: unknown) => seen.push([k, msg as XferEvent]);
      diagnostics_channel.subscribe(`nixl:xfer:${k}`, fn);
      return () => diagnostics_channel.unsubscribe(`nixl:xfer:${k}`, fn);
    });
    try {
      await initiator.write([{ addr: src, len: 8192 }], [{ addr: dst, len: 8192 }], 'm-target');
    } finally {
      for (const u of subs) u();
    }
    expect(seen.map(([k]) => k)).toEqual(['post', 'done']);
    const done = seen[1]![1];
    expect(done).toMatchObject({
      agent: 'm-init',
      op: 'WRITE',
      remoteAgent: 'm-target',
      backend: 'TCP',
      bytes: 8192,
      descCount: 1,
    });
    expect(done.xferTime).toBeGreaterThan(0);
    expect(done.xferTime!).toBeGreaterThanOrEqual(done.postTime!);
    expect(done.request).toBe(seen[0]![1].request);
  }, 30_000);
});
