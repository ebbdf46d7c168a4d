/**
 * etcd with both of its mechanisms on (TLS with client certificates, and
 * user/password authentication with a role restricted to the namespace),
 * killed and restarted in the middle of a run: the agents log in again with
 * their credentials (etcd's tokens do not survive a restart), re-publish
 * under new leases, transfers between agents that know each other never
 * stop, and a new agent joins afterwards. Also the failures at start with
 * credentials: etcd unreachable is a BackendError within connectTimeoutMs, a
 * wrong password a NotAllowedError naming the cause; neither ever writes the
 * password anywhere (logs on: NIXL_TS_LOG=*).
 */
import { readFileSync, rmSync } from 'node:fs';

import { Etcd3, Range } from 'etcd3';
import { afterEach, describe, expect, it } from 'vitest';

import { EtcdServer, freePort, skipWithoutEtcd } from '../etcd/etcd-server.js';
import { joined, patternSha256, spawnEtcdAgent } from '../etcd/etcd-agents.js';
import { makeTestPki, opensslAvailable, tlsEnv, type TestPki } from '../etcd/tls-certs.js';
import type { AgentProcess } from './agent-process.js';

const NS = '/nixl/agents/';
const PASSWORD = 'restart-pw-5c21e8';
const TTL_S = 2;
let server: EtcdServer | undefined;
const procs: AgentProcess[] = [];
const cleanups: (() => void)[] = [];

afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.close()));
  await server?.stop();
  server = undefined;
  for (const c of cleanups.splice(0)) c();
});

/** An etcd on https with client certificates required and auth on: root, and 'nixl' for the namespace. */
async function startSecureEtcd(pki: TestPki): Promise<EtcdServer> {
  const s = await EtcdServer.start({
    scheme: 'https',
    args: [
      '--cert-file',
      pki.serverCert,
      '--key-file',
      pki.serverKey,
      '--trusted-ca-file',
      pki.ca,
      '--client-cert-auth',
    ],
  });
  const root = adminClient(s, pki);
  try {
    await root.role('root').create();
    await (await root.user('root').create('root-pw')).addRole('root');
    const role = await root.role('nixl-agents').create();
    await role.grant({ permission: 'Readwrite', range: Range.prefix(NS) });
    await (await root.user('nixl').create(PASSWORD)).addRole(role);
    await root.auth.authEnable();
  } finally {
    root.close();
  }
  return s;
}

function adminClient(s: EtcdServer, pki: TestPki, auth?: { username: string; password: string }) {
  return new Etcd3({
    hosts: s.endpoint,
    auth,
    credentials: {
      rootCertificate: readFileSync(pki.ca),
      certChain: readFileSync(pki.clientCert),
      privateKey: readFileSync(pki.clientKey),
    },
  });
}

function expectNoPassword(p: AgentProcess, password: string): void {
  expect(p.stderr).not.toContain(password);
  expect(JSON.stringify(p.events)).not.toContain(password);
}

const skip = skipWithoutEtcd || (!opensslAvailable() && process.env.CI !== 'true');

describe.skipIf(skip)(
  'etcd with TLS and authentication, restarted mid-run',
  { timeout: 150_000 },
  () => {
    it('agents log in again, re-publish under new leases, transfers go on, a new agent joins', async () => {
      const pki = makeTestPki();
      cleanups.push(() => rmSync(pki.dir, { recursive: true, force: true }));
      server = await startSecureEtcd(pki);
      const env = {
        ...tlsEnv(pki),
        NIXL_ETCD_USERNAME: 'nixl',
        NIXL_ETCD_PASSWORD: PASSWORD,
        NIXL_TS_LOG: '*',
      };
      const start = (name: string) => {
        const p = spawnEtcdAgent(name, { endpoints: server!.endpoint, ttlSeconds: TTL_S }, env);
        procs.push(p);
        return p;
      };
      const leaseOf = async (key: string) => {
        const c = adminClient(server!, pki, { username: 'root', password: 'root-pw' });
        try {
          return (await c.get(key).exec()).kvs[0]?.lease;
        } finally {
          c.close();
        }
      };

      const a = start('a');
      const b = start('b');
      await Promise.all([joined(a, 'b'), joined(b, 'a')]);
      const r = await b.request({ cmd: 'register', size: 128 << 10, seed: 31 }, 'registered');
      const region = { addr: r.addr as string, len: r.len as number };
      await a.waitEv('peer:update', 'b');
      const sha256 = patternSha256(region.len, 31);
      await a.request(
        { cmd: 'loop-start', peer: 'b', ...region, sha256, intervalMs: 20 },
        'loop-started',
      );
      const leaseBefore = await leaseOf(`${NS}a/metadata`);
      expect(leaseBefore).toBeDefined();

      await server.kill();
      // Away for longer than the lease TTL: the old leases are gone when it is back.
      await new Promise((res) => setTimeout(res, TTL_S * 1000 + 1000));
      const restartedAt = Date.now();
      await server.start();

      const c = start('c');
      await Promise.all([joined(c, 'a'), joined(c, 'b'), joined(a, 'c'), joined(b, 'c')]);
      console.log(`after the restart, c joined both in ${Date.now() - restartedAt} ms`);
      for (const name of ['a', 'b']) {
        const lease = await leaseOf(`${NS}${name}/metadata`);
        expect(lease, `${name} re-published`).toBeDefined();
        if (name === 'a') expect(lease).not.toBe(leaseBefore);
      }
      const stats = await a.request({ cmd: 'loop-stop' }, 'loop-stopped');
      console.log(
        `READs across the restart with auth and TLS: ${stats.ok} ok, ${stats.failed} failed`,
      );
      expect(stats.errors).toEqual([]);
      expect(stats.failed).toBe(0);
      expect(stats.ok).toBeGreaterThan(20);
      for (const p of [a, b]) expect(p.events.filter((e) => e.ev === 'peer:leave')).toEqual([]);
      const read = await c.request({ cmd: 'read', peer: 'b', ...region }, 'read');
      expect(read.sha256).toBe(sha256);

      await Promise.all([a.close(), b.close(), c.close()]);
      for (const p of [a, b, c]) expectNoPassword(p, PASSWORD);
    });

    it('at start: etcd unreachable is a BackendError within connectTimeoutMs; a wrong password a NotAllowedError naming the cause', async () => {
      const pki = makeTestPki();
      cleanups.push(() => rmSync(pki.dir, { recursive: true, force: true }));
      const env = { ...tlsEnv(pki), NIXL_TS_LOG: '*' };
      const connectTimeoutMs = 2000;

      // Nothing listens there.
      const nowhere = `https://127.0.0.1:${await freePort()}`;
      const gone = spawnEtcdAgent(
        'u',
        { endpoints: nowhere, username: 'nixl', password: PASSWORD, connectTimeoutMs },
        env,
      );
      procs.push(gone);
      const fatal = await gone.waitEv('fatal');
      expect(fatal.code).toBe('NIXL_ERR_BACKEND');
      expect(fatal.message).toContain(`as user 'nixl' not reachable within ${connectTimeoutMs} ms`);
      // ms counts from just before Agent.create, so loading gRPC and the TCP
      // backend are in it: the bound plus generous slack for a loaded 2-core machine.
      console.log(
        `etcd unreachable with credentials: BackendError after ${Math.round(fatal.ms as number)} ms (connectTimeoutMs ${connectTimeoutMs})`,
      );
      expect(fatal.ms as number).toBeLessThan(connectTimeoutMs + 6000);
      await gone.exited;
      expectNoPassword(gone, PASSWORD);

      server = await startSecureEtcd(pki);
      const wrongPassword = 'wrong-pw-0d44b2';
      const wrong = spawnEtcdAgent(
        'w',
        { endpoints: server.endpoint, username: 'nixl', password: wrongPassword, connectTimeoutMs },
        env,
      );
      procs.push(wrong);
      const refused = await wrong.waitEv('fatal');
      expect(refused.code).toBe('NIXL_ERR_NOT_ALLOWED');
      expect(refused.message).toMatch(/as user 'nixl' refused: .*authentication failed/);
      console.log(`wrong password: NotAllowedError after ${Math.round(refused.ms as number)} ms`);
      expect(refused.ms as number).toBeLessThan(connectTimeoutMs + 6000);
      await wrong.exited;
      expectNoPassword(wrong, wrongPassword);
      expectNoPassword(wrong, PASSWORD);
    });
  },
);
