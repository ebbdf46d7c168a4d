/**
 * Metadata carries credentials (the TCP backend's secret, region keys), so a
 * cluster's etcd may require its own: agent processes that find each other
 * and transfer through an etcd with authentication on (a user whose role
 * reaches only the namespace) or with TLS client certificates, while a
 * client without the credentials reads nothing there. The credentials never
 * reach a log line or an error message.
 */
import { rmSync } from 'node:fs';

import { Etcd3, Range } from 'etcd3';
import { afterEach, describe, expect, it } from 'vitest';

import { EtcdServer, skipWithoutEtcd } from '../etcd/etcd-server.js';
import { joined, patternSha256, spawnEtcdAgent } from '../etcd/etcd-agents.js';
import { makeTestPki, opensslAvailable, tlsEnv } from '../etcd/tls-certs.js';
import type { AgentProcess } from './agent-process.js';

const NS = '/nixl/agents/';
const PASSWORD = 'agent-pw-7f3a91';
let server: EtcdServer | undefined;
const procs: AgentProcess[] = [];
const cleanups: (() => void)[] = [];

afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.close()));
  await server?.stop();
  server = undefined;
  for (const c of cleanups.splice(0)) c();
});

/** Two agents find each other and b's memory is written by a with a notification. */
async function twoAgentsTransfer(a: AgentProcess, b: AgentProcess): Promise<void> {
  await Promise.all([joined(a, 'b'), joined(b, 'a')]);
  const r = await b.request({ cmd: 'register', size: 65536, seed: 3 }, 'registered');
  await a.waitEv('peer:update', 'b');
  await a.request(
    { cmd: 'write', peer: 'b', addr: r.addr, len: r.len, seed: 4, notif: 'n' },
    'written',
  );
  await b.waitEv('notif');
  const read = await a.request({ cmd: 'read', peer: 'b', addr: r.addr, len: r.len }, 'read');
  expect(read.sha256).toBe(patternSha256(r.len as number, 4));
}

describe.skipIf(skipWithoutEtcd)('etcd with authentication', { timeout: 90_000 }, () => {
  it('agents work with a user restricted to the namespace; a client without credentials reads nothing', async () => {
    server = await EtcdServer.start();
    const root = new Etcd3({ hosts: server.endpoint });
    try {
      await root.role('root').create();
      await (await root.user('root').create('root-pw')).addRole('root');
      const role = await root.role('nixl-agents').create();
      await role.grant({ permission: 'Readwrite', range: Range.prefix(NS) });
      await (await root.user('nixl').create(PASSWORD)).addRole(role);
      await await root.user('stranger').create('stranger-pw');
      await root.auth.authEnable();
    } finally {
      root.close();
    }

    // Credentials from the environment, as a deployment would mount them; logs on.
    const env = { NIXL_ETCD_USERNAME: 'nixl', NIXL_ETCD_PASSWORD: PASSWORD, NIXL_TS_LOG: '*' };
    const start = (name: string) => {
      const p = spawnEtcdAgent(name, { endpoints: server!.endpoint, ttlSeconds: 5 }, env);
      procs.push(p);
      return p;
    };
    const [a, b] = [start('a'), start('b')];
    await twoAgentsTransfer(a, b);

    // Without credentials, or as a user without the role: nothing under the namespace.
    for (const opts of [{}, { auth: { username: 'stranger', password: 'stranger-pw' } }]) {
      const c = new Etcd3({ hosts: server.endpoint, ...opts });
      try {
        await expect(c.getAll().prefix(NS).keys()).rejects.toThrow(
          /permission denied|user name is empty/,
        );
      } finally {
        c.close();
      }
    }
    // With a wrong password an agent does not start: NotAllowedError, the password not echoed.
    const wrong = spawnEtcdAgent('w', {
      endpoints: server.endpoint,
      username: 'nixl',
      password: 'not-it-91',
    });
    procs.push(wrong);
    const fatal = await wrong.waitEv('fatal');
    expect(fatal.code).toBe('NIXL_ERR_NOT_ALLOWED');
    expect(fatal.message).toMatch(/as user 'nixl' refused/);
    expect(fatal.message).not.toContain('not-it-91');

    await Promise.all([a.close(), b.close()]);
    for (const p of [a, b]) {
      expect(p.stderr.length).toBeGreaterThan(0);
      expect(p.stderr).not.toContain(PASSWORD);
      expect(JSON.stringify(p.events)).not.toContain(PASSWORD);
    }
  });
});

describe.skipIf(skipWithoutEtcd || (!opensslAvailable() && process.env.CI !== 'true'))(
  'etcd over TLS with client certificates',
  { timeout: 90_000 },
  () => {
    it('agents with the certificates work; a client without one reads nothing', async () => {
      const pki = makeTestPki();
      cleanups.push(() => rmSync(pki.dir, { recursive: true, force: true }));
      server = await EtcdServer.start({
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
      const env = tlsEnv(pki);
      const start = (name: string) => {
        const p = spawnEtcdAgent(name, { endpoints: server!.endpoint, ttlSeconds: 5 }, env);
        procs.push(p);
        return p;
      };
      const [a, b] = [start('a'), start('b')];
      await twoAgentsTransfer(a, b);

      // Trusting the CA but without a client certificate: refused.
      const { readFileSync } = await import('node:fs');
      const c = new Etcd3({
        hosts: server.endpoint,
        credentials: { rootCertificate: readFileSync(pki.ca) },
        defaultCallOptions: { deadline: Date.now() + 5000 },
      });
      try {
        await expect(c.getAll().prefix(NS).keys()).rejects.toThrow();
      } finally {
        c.close();
      }
    });
  },
);
