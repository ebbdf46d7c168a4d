/**
 * Notification size limits (maxNotifBytes): the agent refuses a notification
 * over the limit of the backend that would carry it with InvalidParamError,
 * before the backend is asked to prepare, post or send anything, and the
 * request or peer is left as it was. The TCP and UCX backends, in one process
 * and across two, are in test/backends/notif-limit.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { LocalBackend, plugin as localPlugin } from '../../backends/local/index.js';
import { LOCAL_MAX_NOTIF_BYTES } from '../../backends/local/local-backend.js';
import { Agent } from '../../src/agent.js';
import {
  BACKEND_API_VERSION,
  DEFAULT_MAX_NOTIF_BYTES,
  type Backend,
  type BackendPlugin,
} from '../../src/backend.js';
import { BackendError, InvalidParamError } from '../../src/errors.js';
import { chunkNotif, lastChunkNotif, MAX_KV_REQUEST_ID_BYTES } from '../../src/kv/index.js';

const MiB = 1024 * 1024;
const open: Agent[] = [];

afterEach(async () => {
  for (const a of open.splice(0)) await a.close();
});

/**
 * LOCAL behind a wrapper that declares `limit` (none when undefined) and
 * records which data-path calls reached the backend.
 */
function wrappedLocal(name: string, limit: number | undefined, calls: string[]): BackendPlugin {
  return {
    apiVersion: BACKEND_API_VERSION,
    name,
    version: '1.0.0',
    mems: ['DRAM'],
    defaultParams: localPlugin.defaultParams,
    async create(params, components) {
      const inner = await localPlugin.create(params, components);
      const b: Backend = {
        type: name,
        capabilities: inner.capabilities,
        params: inner.params,
        ...(limit === undefined ? {} : { maxNotifBytes: limit }),
        registerMem: (d) => inner.registerMem(d),
        deregisterMem: (md) => inner.deregisterMem(md),
        loadLocalMD: (md) => inner.loadLocalMD!(md),
        unloadMD: (md) => inner.unloadMD(md),
        connect: (a) => inner.connect(a),
        disconnect: (a) => inner.disconnect(a),
        prepXfer: (op, l, r, a, o) => (calls.push('prepXfer'), inner.prepXfer(op, l, r, a, o)),
        postXfer: (h, n) => (calls.push('postXfer'), inner.postXfer(h, n)),
        checkXfer: (h) => inner.checkXfer(h),
        releaseXfer: (h) => inner.releaseXfer(h),
        genNotif: (a, m) => (calls.push('genNotif'), inner.genNotif!(a, m)),
        close: () => inner.close(),
      };
      return b;
    },
  };
}

async function agentWith(backend: string, plugin?: BackendPlugin) {
  const a = await Agent.create({ name: `limit-${backend}-${open.length}` });
  open.push(a);
  if (plugin) a.addPlugin(plugin);
  await a.createBackend(backend);
  const buf = a.alloc(2 * 4096).buffer;
  const base = a.registerMem(buf).descs.at(0).addr;
  const src = [{ addr: base, len: 4096 }];
  const dst = [{ addr: base + 4096n, len: 4096 }];
  const notifs: string[] = [];
  a.on('notif', (_from, msg) => notifs.push(Buffer.from(msg).toString()));
  return { a, src, dst, notifs };
}

const tooBig = (limit: number) => new Uint8Array(limit + 1);

function expectLimitError(fn: () => unknown, limit: number, size: number): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(InvalidParamError);
  expect((err as Error).message).toContain(`${size} bytes`);
  expect((err as Error).message).toContain(`limit of ${limit} bytes`);
}

async function settle(): Promise<void> {
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
}

describe('notification limits', () => {
  it('LOCAL declares 1 MiB; a backend without maxNotifBytes gets the default', async () => {
    expect(LOCAL_MAX_NOTIF_BYTES).toBe(MiB);
    expect(DEFAULT_MAX_NOTIF_BYTES).toBe(MiB);
    const { a } = await agentWith('LOCAL');
    expect(a.backends[0]).toBeInstanceOf(LocalBackend);
    expect(a.backends[0]!.maxNotifBytes).toBe(MiB);

    const calls: string[] = [];
    const d = await agentWith('OLD', wrappedLocal('OLD', undefined, calls));
    expect(d.a.backends[0]!.maxNotifBytes).toBeUndefined();
    expectLimitError(() => d.a.genNotif(d.a.name, tooBig(MiB)), MiB, MiB + 1);
    expect(calls).toEqual([]);
    d.a.genNotif(d.a.name, new Uint8Array(MiB)); // exactly the limit is fine
    expect(calls).toEqual(['genNotif']);
  });

  it('every entry point refuses an over-limit notification before the backend sees it', async () => {
    const calls: string[] = [];
    const { a, src, dst, notifs } = await agentWith('SMALL', wrappedLocal('SMALL', 16, calls));
    const big = 'x'.repeat(17);

    expectLimitError(() => a.genNotif(a.name, big), 16, 17);
    // Bytes, not characters: 6 three-byte characters are 18 bytes.
    expectLimitError(() => a.genNotif(a.name, '€'.repeat(6)), 16, 18);
    expectLimitError(() => a.createXferReq('WRITE', src, dst, a.name, { notif: big }), 16, 17);
    const l = a.prepXferDlist('', src);
    const r = a.prepXferDlist(a.name, dst);
    expectLimitError(() => a.makeXferReq('WRITE', l, [0], r, [0], { notif: big }), 16, 17);
    await expect(a.write(src, dst, a.name, { notif: big })).rejects.toBeInstanceOf(
      InvalidParamError,
    );
    await expect(a.read(src, dst, a.name, { notif: big })).rejects.toThrow(/limit of 16 bytes/);
    expect(calls).toEqual([]); // no handle prepared, nothing posted or sent

    // postXferReq with a notif: refused, the request keeps its own and still posts.
    const req = a.createXferReq('WRITE', src, dst, a.name, { notif: 'small' });
    expect(calls).toEqual(['prepXfer']);
    expectLimitError(() => a.postXferReq(req, { notif: big }), 16, 17);
    expectLimitError(() => req.setNotif(new Uint8Array(17)), 16, 17);
    expect(a.getXferStatus(req)).toBe('NOT_POSTED');
    expect(Buffer.from(req.notif!).toString()).toBe('small');
    expect(calls).toEqual(['prepXfer']);
    a.postXferReq(req);
    await req.done;
    a.postXferReq(req, { notif: '16 bytes exactly' });
    await req.done;
    req.release();
    await a.write(src, dst, a.name, { notif: 'after' });
    a.genNotif(a.name, 'standalone');
    await settle();
    expect(notifs).toEqual(['small', '16 bytes exactly', 'after', 'standalone']);
  });

  it('LOCAL refuses on its own when called directly', async () => {
    const { a } = await agentWith('LOCAL');
    const b = a.backends[0]!;
    expectLimitError(() => b.genNotif!(a.name, tooBig(MiB)), MiB, MiB + 1);
  });

  it('a backend declaring a bad maxNotifBytes is refused at creation', async () => {
    const a = await Agent.create({ name: 'bad-limit' });
    open.push(a);
    a.addPlugin(wrappedLocal('NEG', -1, []));
    a.addPlugin(wrappedLocal('FRAC', 1.5, []));
    await expect(a.createBackend('NEG')).rejects.toBeInstanceOf(BackendError);
    await expect(a.createBackend('FRAC')).rejects.toThrow(/maxNotifBytes/);
    expect(a.backends).toHaveLength(0);
  });

  it('KV request ids are bounded so every KV notification fits', () => {
    expect(MAX_KV_REQUEST_ID_BYTES).toBeLessThan(DEFAULT_MAX_NOTIF_BYTES);
    const id = 'r'.repeat(MAX_KV_REQUEST_ID_BYTES);
    expect(Buffer.byteLength(lastChunkNotif(id, 999_999_999))).toBeLessThan(
      DEFAULT_MAX_NOTIF_BYTES,
    );
    expect(() => chunkNotif(id + 'r', 0)).toThrow(InvalidParamError);
    expect(() => chunkNotif(id + 'r', 0)).toThrow(`got ${MAX_KV_REQUEST_ID_BYTES + 1}`);
  });
});
