/**
 * The etcd plugin in this process: its configuration (options over NIXL's
 * environment), the key layout, NIXL's store calls without a store, start
 * against an etcd that is not there (refused, and silent), and against a
 * real etcd on 127.0.0.1: the store calls, and values a peer (or anyone
 * with write access) may put that must not break it.
 */
import { createServer, type Server, type Socket } from 'node:net';

import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import type { NixlError } from '../../src/errors.js';
import { etcd, type EtcdOptions } from '../../plugins/etcd/index.js';
import { describe as describeConfig, resolveConfig } from '../../plugins/etcd/config.js';
import { parseKey } from '../../plugins/etcd/keys.js';
import { EtcdServer, freePort, skipWithoutEtcd } from '../etcd/etcd-server.js';

const TCP = [{ type: 'TCP', params: { bind_addr: '127.0.0.1', port: '0' } }];

interface Tracked {
  agent: Agent;
  events: string[];
  errors: NixlError[];
}

const agents: Agent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

async function startAgent(name: string, opts: EtcdOptions): Promise<Tracked> {
  const agent = await Agent.create({ name, backends: TCP, discovery: etcd(opts) });
  agents.push(agent);
  const t: Tracked = { agent, events: [], errors: [] };
  for (const kind of ['peer:join', 'peer:update', 'peer:leave'] as const) {
    agent.on(kind, (peer: string) => t.events.push(`${kind} ${peer}`));
  }
  agent.on('discovery:error', (err) => {
    t.errors.push(err);
    t.events.push(`error ${err.code} ${err.message}`);
  });
  return t;
}

/** Resolves once `pred` holds (checked on each event and every 20 ms), or fails after `ms`. */
async function until(pred: () => boolean, what: string, ms = 10_000, t?: Tracked): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) {
      throw new Error(
        `timed out after ${ms} ms waiting for ${what}; events: ${t?.events.join('\n')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('etcd plugin configuration', () => {
  it('reads NIXL_ETCD_* from the environment; options in code win', () => {
    const env = {
      NIXL_ETCD_ENDPOINTS: '127.0.0.1:2379, http://127.0.0.2:2380',
      NIXL_ETCD_NAMESPACE: '/cluster/a//',
      NIXL_ETCD_USERNAME: 'nixl',
      NIXL_ETCD_PASSWORD: 's3cret-pw',
    };
    const c = resolveConfig({}, env);
    expect(c.endpoints).toEqual(['http://127.0.0.1:2379', 'http://127.0.0.2:2380']);
    expect(c.namespace).toBe('/cluster/a/');
    expect(c.auth).toEqual({ username: 'nixl', password: 's3cret-pw' });
    const o = resolveConfig(
      { endpoints: ['127.0.0.3:1'], namespace: 'x', username: 'u', password: 'p' },
      env,
    );
    expect(o.endpoints).toEqual(['http://127.0.0.3:1']);
    expect(o.namespace).toBe('x/');
    expect(o.auth!.username).toBe('u');
    expect(resolveConfig({}, {})).toMatchObject({
      endpoints: ['http://127.0.0.1:2379'],
      namespace: '/nixl/agents/',
      ttlSeconds: 10,
      connectTimeoutMs: 5000,
      maxValueBytes: 64 * 1024 * 1024,
    });
    // Messages name the endpoints and the user, never the password.
    expect(describeConfig(c)).toBe(
      "etcd at http://127.0.0.1:2379, http://127.0.0.2:2380 as user 'nixl'",
    );
  });

  it('refuses bad settings with InvalidParamError', () => {
    const bad: [EtcdOptions, RegExp][] = [
      [{ endpoints: [] }, /no endpoint/],
      [{ endpoints: 'ftp://127.0.0.1:1' }, /http\(s\)/],
      [{ endpoints: 'http://user:pw@127.0.0.1:1' }, /without credentials/],
      [{ namespace: '/' }, /namespace/],
      [{ username: 'u' }, /both a username and a password/],
      [{ ttlSeconds: 0 }, /ttlSeconds/],
      [{ ttlSeconds: 1.5 }, /whole number/],
      [{ tls: { cert: 'x' } }, /needs its key/],
    ];
    for (const [opts, re] of bad) {
      expect(() => resolveConfig(opts, {})).toThrow(re);
    }
    try {
      resolveConfig({ endpoints: 'http://u:hunter2@127.0.0.1:1' }, {});
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2');
    }
  });

  it('parses keys as <namespace><agent>/<label>', () => {
    expect(parseKey('/nixl/agents/', '/nixl/agents/a/metadata')).toEqual({
      agent: 'a',
      label: 'metadata',
    });
    expect(parseKey('/nixl/agents/', '/nixl/agents/a')).toBeUndefined();
    expect(parseKey('/nixl/agents/', '/nixl/agents/a/b/c')).toBeUndefined();
    expect(parseKey('/nixl/agents/', '/other/a/metadata')).toBeUndefined();
  });
});

describe("NIXL's store calls without a metadata plugin", () => {
  it('throw NotSupportedError', async () => {
    const agent = await Agent.create({ name: 'lonely', backends: TCP });
    agents.push(agent);
    for (const call of [
      () => agent.sendLocalMD(),
      () => agent.sendLocalPartialMD(null, { label: 'conn' }),
      () => agent.fetchRemoteMD('peer'),
      () => agent.invalidateLocalMD(),
    ]) {
      await expect(call()).rejects.toMatchObject({
        code: 'NIXL_ERR_NOT_SUPPORTED',
        message: expect.stringMatching(/needs a metadata plugin .* this agent has none/),
      });
    }
  });
});

describe('etcd unreachable at start', () => {
  let silent: Server;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    // Accepts connections and never answers: a hung etcd, or a black hole.
    silent = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
  });

  for (const kind of ['refused', 'silent'] as const) {
    it(`fails with BackendError within connectTimeoutMs (${kind})`, async () => {
      const port =
        kind === 'refused' ? await freePort() : (silent.address() as { port: number }).port;
      const t0 = performance.now();
      const err = await Agent.create({
        name: 'a',
        backends: TCP,
        discovery: etcd({ endpoints: `127.0.0.1:${port}`, connectTimeoutMs: 1500 }),
      }).catch((e) => e);
      const ms = performance.now() - t0;
      expect(err).toMatchObject({ code: 'NIXL_ERR_BACKEND' });
      expect(err.message).toContain(`etcd at http://127.0.0.1:${port}`);
      expect(err.message).toMatch(/not reachable within 1500 ms \(connectTimeoutMs\)/);
      expect(ms).toBeLessThan(1500 + 2000);
    });
  }
});

describe.skipIf(skipWithoutEtcd)('etcd starting after the agent', () => {
  it('start retries until etcd serves, within connectTimeoutMs', async () => {
    const port = await freePort();
    const t0 = performance.now();
    const created = Agent.create({
      name: 'early',
      backends: TCP,
      discovery: etcd({
        endpoints: `127.0.0.1:${port}`,
        namespace: '/early/',
        connectTimeoutMs: 30_000,
      }),
    });
    created.catch(() => {});
    await new Promise((r) => setTimeout(r, 1000));
    const server = await EtcdServer.start({ clientPort: port });
    try {
      const agent = await created;
      agents.push(agent);
      expect(performance.now() - t0).toBeGreaterThan(1000);
      await agent.close();
    } finally {
      await server.stop();
    }
  });
});

describe.skipIf(skipWithoutEtcd)('etcd plugin against a real etcd', { timeout: 60_000 }, () => {
  let server: EtcdServer;
  let raw: Etcd3;
  let ns = '';
  let n = 0;
  beforeAll(async () => {
    server = await EtcdServer.start();
    raw = new Etcd3({ hosts: server.endpoint });
  });
  afterAll(async () => {
    raw?.close();
    await server?.stop();
  });
  /** A namespace of its own for each test. */
  const opts = (extra: EtcdOptions = {}): EtcdOptions => ({
    endpoints: server.endpoint,
    namespace: ns,
    ttlSeconds: 5,
    ...extra,
  });
  afterEach(() => {
    ns = `/t${++n}/`;
  });
  beforeAll(() => {
    ns = `/t${++n}/`;
  });

  it('publishes under <namespace><agent>/metadata and deletes it at close', async () => {
    const a = await startAgent('a', opts());
    expect((await raw.get(`${ns}a/metadata`).buffer())?.byteLength).toBeGreaterThan(0);
    await a.agent.close();
    expect(await raw.get(`${ns}a/metadata`).buffer()).toBeNull();
  });

  it('puts its metadata back when another client deletes it', async () => {
    const a = await startAgent('a', opts());
    const b = await startAgent('b', opts());
    await b.agent.waitForPeer('a', { signal: AbortSignal.timeout(5000) });
    await raw.delete().key(`${ns}a/metadata`);
    await until(() => b.events.includes('peer:leave a'), 'b to drop a');
    await b.agent.waitForPeer('a', { signal: AbortSignal.timeout(5000) });
    expect((await raw.get(`${ns}a/metadata`).buffer())?.byteLength).toBeGreaterThan(0);
    expect(a.errors).toEqual([]);
  });

  it('sendLocalPartialMD, fetchRemoteMD by label, invalidateLocalMD and sendLocalMD', async () => {
    const a = await startAgent('a', opts());
    const b = await startAgent('b', opts());
    await a.agent.waitForPeer('b', { signal: AbortSignal.timeout(5000) });
    const { buffer } = b.agent.alloc(4096);
    const reg = b.agent.registerMem(buffer);
    await b.agent.sendLocalPartialMD(reg, { label: 'kv-blocks', includeConnInfo: true });
    for (const label of ['metadata', 'update', 'a/b', '']) {
      await expect(b.agent.sendLocalPartialMD(reg, { label })).rejects.toMatchObject({
        code: 'NIXL_ERR_INVALID_PARAM',
      });
    }
    await a.agent.fetchRemoteMD('b', { label: 'kv-blocks', signal: AbortSignal.timeout(5000) });
    expect(a.agent.checkRemoteMD('b', reg.descs)).toBe(true);

    await b.agent.invalidateLocalMD();
    await until(() => a.events.includes('peer:leave b'), 'a to drop b');
    expect(a.agent.remoteAgents).toEqual([]);
    expect(await raw.getAll().prefix(`${ns}b/`).keys()).toEqual([]);
    // Withdrawn: registrations are not published until sendLocalMD.
    b.agent.registerMem(b.agent.alloc(4096).buffer);
    await new Promise((r) => setTimeout(r, 300));
    expect(a.agent.remoteAgents).toEqual([]);
    await b.agent.sendLocalMD();
    await a.agent.waitForPeer('b', { signal: AbortSignal.timeout(5000) });
    expect(a.agent.getRemoteRegions('b').length).toBe(2);

    // A fetch that the agent's close ends.
    const pending = a.agent.fetchRemoteMD('never').catch((e) => e);
    await a.agent.close();
    expect(await pending).toMatchObject({ code: 'NIXL_ERR_CANCELED' });
  });

  it('a put of unchanged metadata (sendLocalMD) puts the last update again in its transaction', async () => {
    const b = await startAgent('b', opts());
    const reg = b.agent.registerMem(b.agent.alloc(4096).buffer);
    const keys = async () => {
      const res = await raw.getAll().prefix(`${ns}b/`).exec();
      return new Map(res.kvs.map((kv) => [kv.key.toString().slice(ns.length), kv]));
    };
    const end = Date.now() + 5000;
    while (!(await keys()).has('b/update')) {
      if (Date.now() > end) throw new Error('no update key within 5 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    const before = await keys();
    expect(before.get('b/update')!.mod_revision).toBe(before.get('b/metadata')!.mod_revision);

    await b.agent.sendLocalMD();
    const after = await keys();
    // Readers pair the two only when one transaction wrote both.
    expect(BigInt(after.get('b/metadata')!.mod_revision)).toBeGreaterThan(
      BigInt(before.get('b/metadata')!.mod_revision),
    );
    expect(after.get('b/update')!.mod_revision).toBe(after.get('b/metadata')!.mod_revision);
    expect(after.get('b/update')!.value).toEqual(before.get('b/update')!.value);
    expect(after.get('b/metadata')!.value).toEqual(before.get('b/metadata')!.value);

    // Once the metadata changed otherwise (a deregistration), it goes alone.
    b.agent.deregisterMem(reg);
    while ((await keys()).get('b/metadata')!.value.equals(before.get('b/metadata')!.value)) {
      if (Date.now() > end + 5000) throw new Error('the deregistration was not published');
      await new Promise((r) => setTimeout(r, 20));
    }
    await b.agent.sendLocalMD();
    const last = await keys();
    expect(last.get('b/update')!.mod_revision).toBe(after.get('b/update')!.mod_revision);
    expect(BigInt(last.get('b/metadata')!.mod_revision)).toBeGreaterThan(
      BigInt(after.get('b/metadata')!.mod_revision),
    );
  });

  it('ignores oversized, misnamed and malformed values with a discovery:error, and keeps working', async () => {
    const maxValueBytes = 64 * 1024;
    // Present at start: one value over the bound, one over the gRPC message
    // bound as well (etcd takes up to 1.5 MiB), one misnamed, one junk.
    await raw.put(`${ns}big/metadata`).value(Buffer.alloc(maxValueBytes + 1, 1));
    await raw.put(`${ns}huge/metadata`).value(Buffer.alloc(1200 * 1024, 2));
    await raw.put(`${ns}junk/metadata`).value(Buffer.from('not metadata'));
    const x = await startAgent('x', opts());
    await raw.put(`${ns}liar/metadata`).value(Buffer.from(x.agent.getLocalMD()));

    const a = await startAgent('a', opts({ maxValueBytes }));
    await until(() => a.errors.length >= 4, 'four errors', 10_000, a);
    const text = a.errors.map((e) => `${e.code} ${e.message}`).join('\n');
    expect(text).toMatch(
      /NIXL_ERR_MISMATCH .*'metadata' value of 'big' is 65537 bytes, over the 65536-byte bound/,
    );
    expect(text).toMatch(/NIXL_ERR_BACKEND .*huge\/metadata is over the gRPC message bound/);
    expect(text).toMatch(/NIXL_ERR_MISMATCH .*'junk'/);
    expect(text).toMatch(/NIXL_ERR_NOT_ALLOWED .*key of 'liar' holds metadata of 'x'/);
    expect(a.agent.remoteAgents).toEqual(['x']);

    // The same, put while it runs (the watch; the huge one breaks the watch
    // stream, and the plugin re-reads past it).
    a.errors.length = 0;
    await raw.put(`${ns}big2/metadata`).value(Buffer.alloc(maxValueBytes + 1, 1));
    await raw.put(`${ns}junk2/metadata`).value(Buffer.from('junk'));
    await raw.put(`${ns}huge2/metadata`).value(Buffer.alloc(1200 * 1024, 2));
    await until(
      () =>
        a.errors.some((e) => /big2/.test(e.message)) &&
        a.errors.some((e) => /junk2/.test(e.message)),
      'errors about big2 and junk2',
    );
    await until(() => a.errors.some((e) => /huge2/.test(e.message)), 'an error about huge2');
    // Still watching: a newcomer is loaded.
    await startAgent('late', opts());
    await a.agent.waitForPeer('late', { signal: AbortSignal.timeout(10_000) });
    expect(a.agent.remoteAgents.sort()).toEqual(['late', 'x']);
  });
  it('a namespace writer inventing many agent names costs bounded records and reports', async () => {
    const disc = etcd(opts({ maxPeers: 32 }));
    const agent = await Agent.create({ name: 'a', backends: TCP, discovery: disc });
    agents.push(agent);
    const errors: NixlError[] = [];
    agent.on('discovery:error', (err) => errors.push(err));
    const t0 = performance.now();
    // 1,000 names with junk, in transactions of 100 (etcd's --max-txn-ops is 128).
    for (let t = 0; t < 10; t++) {
      const txn = raw.if(`${ns}none`, 'Create', '==', 0);
      const puts = [];
      for (let i = 0; i < 100; i++)
        puts.push(raw.put(`${ns}fake-${t}-${i}/metadata`).value('junk'));
      await txn.then(...puts).commit();
    }
    await until(() => disc.stats().errorsSuppressed + errors.length >= 1000, 'every junk put seen');
    const seconds = (performance.now() - t0) / 1000;
    const s = disc.stats();
    console.log(
      `1000 junk names: ${errors.length} reports in ${seconds.toFixed(1)} s, ${JSON.stringify(s)}`,
    );
    // 16 at once, then one a second.
    expect(errors.length).toBeLessThanOrEqual(16 + Math.ceil(seconds) + 1);
    expect(s.refused).toBeLessThanOrEqual(32);
    expect(s.peers).toBe(0);
    // A real agent still joins; one past maxPeers would be refused by name.
    await startAgent('late', opts());
    await agent.waitForPeer('late', { signal: AbortSignal.timeout(10_000) });
    expect(agent.remoteAgents).toEqual(['late']);
    // The count of what was not reported rides on a later report.
    await new Promise((r) => setTimeout(r, 1100));
    await raw.put(`${ns}one-more/metadata`).value('junk');
    await until(() => errors.some((e) => /similar reports suppressed/.test(e.message)), 'a count');
  });
});
