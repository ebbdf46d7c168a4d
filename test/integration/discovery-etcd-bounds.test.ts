/**
 * What a writer of the namespace costs an agent that reads it: 96 values of
 * 1 MiB under 96 agent names and 2,000 more names with junk. The agent
 * reads the namespace a page at a time and hands each agent's values on as
 * soon as they are read, so it never holds more than a page (bounded by the
 * gRPC message bound, maxValueBytes + 1 MiB) and one agent's values: the
 * memory it retains while starting stays well below the 96 MiB stored
 * (holding the whole read, as a first version did, retains all of it).
 * Refused names are remembered up to maxPeers, reports are rate-limited,
 * and the real agent is loaded. A fresh process (test/etcd/namespace-flood.ts)
 * measures it.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { etcd } from '../../plugins/etcd/index.js';
import { Agent } from '../../src/agent.js';
import { EtcdServer, skipWithoutEtcd } from '../etcd/etcd-server.js';

const SCRIPT = fileURLToPath(new URL('../etcd/namespace-flood.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NS = '/flood/';

let server: EtcdServer;
let x: Agent | undefined;
beforeAll(async () => {
  if (skipWithoutEtcd) return;
  server = await EtcdServer.start();
  const raw = new Etcd3({ hosts: server.endpoint });
  try {
    const big = Buffer.alloc(1 << 20, 0x5a);
    for (let i = 0; i < 96; i++) await raw.put(`${NS}big-${i}/metadata`).value(big);
    for (let t = 0; t < 20; t++) {
      const puts = [];
      for (let i = 0; i < 100; i++)
        puts.push(raw.put(`${NS}fake-${t}-${i}/metadata`).value('junk'));
      await raw
        .if(`${NS}none`, 'Create', '==', 0)
        .then(...puts)
        .commit();
    }
  } finally {
    raw.close();
  }
  // The real agent, in this process.
  x = await Agent.create({
    name: 'x',
    backends: [{ type: 'TCP', params: { bind_addr: '127.0.0.1', port: '0' } }],
    discovery: etcd({
      endpoints: [server.endpoint],
      namespace: NS,
      maxValueBytes: 2 << 20,
      connectTimeoutMs: 60_000,
    }),
  });
  x.registerMem(x.alloc(4096).buffer);
}, 180_000);
afterAll(async () => {
  await x?.close();
  await server?.stop();
});

function runFlood(): Promise<{ code: number | null; out: Record<string, any>; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', SCRIPT, server.endpoint, NS],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      let out = {};
      try {
        out = JSON.parse(stdout.trim().split('\n').at(-1) ?? '');
      } catch {
        // asserted below
      }
      resolve({ code, out, stderr });
    });
  });
}

describe.skipIf(skipWithoutEtcd)('a namespace full of junk', () => {
  it('costs bounded memory, records and reports; the real agent loads', async () => {
    const r = await runFlood();
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const { peakMiB, startMs, remoteAgents, stats, reports } = r.out;
    console.log(
      `96 x 1 MiB + 2000 junk names: peak retained ${peakMiB.toFixed(1)} MiB while starting in ${Math.round(startMs)} ms; ${reports} reports; ${JSON.stringify(stats)}`,
    );
    expect(remoteAgents).toEqual(['x']);
    // A page is at most maxValueBytes (2 MiB) + 1 MiB; the rest is what starting
    // an agent retains anyway (gRPC, etcd3's protos, the TCP backend): 28 MiB
    // measured in all. Holding the whole read (or reports that keep the values
    // they refused: a decoder's error holds its input) retains 96 MiB or more.
    // 62.7 MiB in one loaded CI run (2026-12-05), hence 80.
    expect(peakMiB).toBeLessThan(80);
    expect(stats.refused).toBeLessThanOrEqual(64);
    expect(stats.peers).toBe(1);
    expect(reports).toBeLessThanOrEqual(16 + Math.ceil(startMs / 1000) + 1);
  }, 180_000);
});
