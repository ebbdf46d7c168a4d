/**
 * Agent processes that find each other through a static seed list only
 * (multicast off: no mDNS source), on 127.0.0.1; a crashed process (SIGKILL)
 * is invalidated on the others once the grace period passes, and a frozen one
 * (SIGSTOP) resumed within it is not.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { CLUSTER_KEY_ENV, generateClusterKey } from '../../plugins/gossip/cluster-key.js';
import { waitStopped } from '../proc-stat.js';
import { AgentProcess, spawnAgent } from './agent-process.js';

// The agent processes inherit the environment: they take the cluster key from it.
process.env[CLUSTER_KEY_ENV] = generateClusterKey();

const GRACE_MS = 2000;
const procs: AgentProcess[] = [];
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.close()));
});

function start(name: string, seeds?: string[], listen = '/ip4/127.0.0.1/tcp/0'): AgentProcess {
  const p = spawnAgent({
    name,
    cluster: 'seeds',
    listen: [listen],
    seeds,
    graceMs: GRACE_MS,
    backend: 'TCP',
    backendParams: { bind_addr: '127.0.0.1', port: '0' },
  });
  procs.push(p);
  return p;
}

describe('discovery through seeds, across processes', { timeout: 90_000 }, () => {
  it('three processes find each other from one seed; a SIGKILLed one is invalidated after the grace period', async () => {
    const s = start('s');
    const ready = await s.waitEv('ready');
    const seed = (ready.addrs as string[])[0]!.replace(/\/p2p\/.*$/, '');
    const b = start('b', [seed]);
    const c = start('c', [seed]);
    await Promise.all([
      s.waitEv('peer:join', 'b'),
      s.waitEv('peer:join', 'c'),
      b.waitEv('peer:join', 's'),
      b.waitEv('peer:join', 'c'),
      c.waitEv('peer:join', 's'),
      c.waitEv('peer:join', 'b'),
    ]);

    const killedAt = Date.now();
    c.kill('SIGKILL');
    const [ls, lb] = await Promise.all([s.waitEv('peer:leave', 'c'), b.waitEv('peer:leave', 'c')]);
    for (const leave of [ls, lb]) {
      // Not before the grace period (the connection drop alone is not a leave),
      // and within it plus generous slack for a loaded machine.
      expect(leave.t - killedAt).toBeGreaterThanOrEqual(GRACE_MS - 50);
      expect(leave.t - killedAt).toBeLessThan(GRACE_MS + 20_000);
    }
    expect(s.events.filter((e) => e.ev === 'error')).toEqual([]);
  });

  it('a SIGSTOPped agent resumed within the grace period is not invalidated', async () => {
    const s = start('s');
    const ready = await s.waitEv('ready');
    const seed = (ready.addrs as string[])[0]!.replace(/\/p2p\/.*$/, '');
    const b = start('b', [seed]);
    const c = start('c', [seed]);
    await Promise.all([
      s.waitEv('peer:join', 'c'),
      b.waitEv('peer:join', 'c'),
      c.waitEv('peer:join', 's'),
      c.waitEv('peer:join', 'b'),
    ]);

    // Frozen for most of the grace period: its neighbours' probes go
    // unanswered and they suspect it (its connections stay open: the kernel
    // still holds them), then it runs again and refutes the suspicion.
    c.signal('SIGSTOP');
    await waitStopped(c.child.pid!);
    const frozenAt = Date.now();
    await new Promise((r) => setTimeout(r, (GRACE_MS * 3) / 4));
    c.signal('SIGCONT');
    const resumedAt = Date.now();
    // Well past the point where an unrefuted suspicion would have been confirmed.
    await new Promise((r) => setTimeout(r, GRACE_MS * 4));
    for (const p of [s, b])
      expect(p.events.filter((e) => e.ev === 'peer:leave' && e.t >= frozenAt)).toEqual([]);
    expect(c.events.filter((e) => e.ev === 'peer:leave' && e.t >= resumedAt)).toEqual([]);
    // Still a member: a registration it makes now reaches the others, and a
    // READ of it through the loaded metadata returns its bytes.
    const r = await c.request({ cmd: 'register', size: 4096, fill: 7 }, 'registered');
    const updated = (e: { ev: string; peer?: string; t: number }) =>
      e.ev === 'peer:update' && e.peer === 'c' && e.t >= resumedAt;
    await Promise.all([s.waitFor(updated, 'c updated'), b.waitFor(updated, 'c updated')]);
    const read = await b.request({ cmd: 'read', peer: 'c', addr: r.addr, len: r.len }, 'read');
    expect(read.sum).toBe(7 * 4096);
  });

  it('a restarted seed is redialed and the cluster heals', async () => {
    // The seed listens on a fixed port picked by the OS once, then reused.
    const s = start('s');
    const ready = await s.waitEv('ready');
    const seed = (ready.addrs as string[])[0]!.replace(/\/p2p\/.*$/, '');
    const b = start('b', [seed]);
    await Promise.all([s.waitEv('peer:join', 'b'), b.waitEv('peer:join', 's')]);
    await s.close();
    await b.waitEv('peer:leave', 's');
    const s2 = start('s', undefined, seed);
    await s2.waitEv('ready');
    await b.waitFor(
      (e) => e.ev === 'peer:join' && e.peer === 's' && e.t > ready.t,
      'b to rejoin the new s',
    );
    await s2.waitEv('peer:join', 'b');
  });
});
