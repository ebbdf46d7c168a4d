/**
 * A process whose agents use the etcd plugin ends as every nixl-ts process
 * does (DESIGN.md rule 6, test/integration/process-lifetime.test.ts): with
 * close() or without it, on the main thread or in a worker, it exits 0 by
 * itself soon after its last work. Without close() its keys stay until
 * their lease expires (as after a crash); while the process lives on for
 * its own reasons, the plugin's unref'd keep-alive still holds the lease.
 * Each case is a fresh process (test/etcd/left-open.ts) against a real etcd.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { EtcdServer, skipWithoutEtcd } from '../etcd/etcd-server.js';

const SCRIPT = fileURLToPath(new URL('../etcd/left-open.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Generous on a loaded 2-core machine; the process ends about 0.1 s after its work when idle. */
const EXIT_BOUND_MS = 10_000;
const TTL_S = 2;

let server: EtcdServer;
beforeAll(async () => {
  if (!skipWithoutEtcd) server = await EtcdServer.start();
});
afterAll(async () => {
  await server?.stop();
});

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: Record<string, unknown>;
  stderr: string;
  endedAt: number;
}

/** Runs the script to its end; SIGKILLed (by PID) after limitMs, so a hang fails instead of stalling. */
function runScript(mode: string, holdMs = 0, limitMs = 60_000): Promise<Ended> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', SCRIPT, server.endpoint, mode, String(holdMs)],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const last = stdout.trim().split('\n').at(-1) ?? '';
      let out: Record<string, unknown> = {};
      try {
        out = JSON.parse(last);
      } catch {
        // no result line: the assertions below say so
      }
      resolve({ code, signal, out, stderr, endedAt: Date.now() });
    });
  });
}

async function keysUnder(prefix: string): Promise<string[]> {
  const c = new Etcd3({ hosts: server.endpoint });
  try {
    return await c.getAll().prefix(prefix).keys();
  } finally {
    c.close();
  }
}

describe.skipIf(skipWithoutEtcd)('a process with etcd agents exits by itself', () => {
  for (const mode of ['close', 'open', 'worker-close', 'worker-open']) {
    it(`${mode}: moves verified data, then exits 0 within ${EXIT_BOUND_MS / 1000} s of its last work`, async () => {
      const r = await runScript(mode);
      expect(r.code, `signal ${r.signal}; ${r.stderr.slice(-1500)}`).toBe(0);
      expect(r.out.verified, JSON.stringify(r.out)).toBe(true);
      if (mode.startsWith('worker')) expect(r.out.workerExit).toBe(0);
      const lived = r.endedAt - Number(r.out.workDoneAt);
      console.log(`etcd agents, ${mode}: the process ended ${lived} ms after its last work`);
      expect(lived).toBeLessThan(EXIT_BOUND_MS);
    }, 90_000);
  }

  it('closed agents leave no key; agents left open expire with their lease after the process ends', async () => {
    const closed = await runScript('close');
    expect(closed.code).toBe(0);
    expect(await keysUnder(String(closed.out.namespace))).toEqual([]);
    const open = await runScript('open');
    expect(open.code).toBe(0);
    const ns = String(open.out.namespace);
    // Expiry: TTL after the last keep-alive, checked by etcd every 0.5 s; 5 s of slack.
    const deadline = Date.now() + TTL_S * 1000 + 5000;
    let left = await keysUnder(ns);
    while (left.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      left = await keysUnder(ns);
    }
    expect(left).toEqual([]);
  }, 120_000);

  it(`the keep-alive runs unref'd: a process that lives on for 4 TTLs keeps its agents' keys`, async () => {
    const r = await runScript('open', 4 * TTL_S * 1000);
    expect(r.code, r.stderr.slice(-1500)).toBe(0);
    const keys = r.out.keysAfterHold as string[];
    expect(keys.filter((k) => k.endsWith('/metadata')).length, JSON.stringify(keys)).toBe(2);
  }, 90_000);
});
