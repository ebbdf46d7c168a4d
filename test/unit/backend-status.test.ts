/**
 * The typed statuses of the backend contract (src/backend.ts): postXfer
 * returns SUCCESS or IN_PROG (or throws), checkXfer a status code. A plugin
 * that returns anything else gets a BackendError naming it, on the request it
 * broke; a negative status without an error becomes that status's typed error.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { plugin as localPlugin } from '../../backends/local/index.js';
import { Agent } from '../../src/agent.js';
import { BACKEND_API_VERSION, type Backend, type BackendPlugin } from '../../src/backend.js';
import { BackendError, NixlError, RemoteDisconnectError, UnknownError } from '../../src/errors.js';
import { Status } from '../../src/status.js';

const open: Agent[] = [];

afterEach(async () => {
  for (const a of open.splice(0)) await a.close();
});

/** What the wrapped LOCAL answers instead of its own statuses. */
interface Answers {
  post?: unknown;
  check?: unknown;
}

/** LOCAL behind a wrapper named BOGUS whose postXfer/checkXfer answer `answers`. */
function bogus(answers: Answers): BackendPlugin {
  return {
    apiVersion: BACKEND_API_VERSION,
    name: 'BOGUS',
    version: '1.0.0',
    mems: ['DRAM'],
    defaultParams: localPlugin.defaultParams,
    async create(params, components) {
      const inner = await localPlugin.create(params, components);
      const b: Backend = {
        type: 'BOGUS',
        capabilities: { ...inner.capabilities, notif: false },
        params: inner.params,
        registerMem: (d) => inner.registerMem(d),
        deregisterMem: (md) => inner.deregisterMem(md),
        loadLocalMD: (md) => inner.loadLocalMD!(md),
        unloadMD: (md) => inner.unloadMD(md),
        connect: (a) => inner.connect(a),
        disconnect: (a) => inner.disconnect(a),
        prepXfer: (op, l, r, a, o) => inner.prepXfer(op, l, r, a, o),
        // A plugin outside TypeScript's reach may answer anything.
        postXfer: (h, n) => {
          const s = inner.postXfer(h, n);
          return ('post' in answers ? answers.post : s) as never;
        },
        checkXfer: (h) => ('check' in answers ? answers.check : inner.checkXfer(h)) as never,
        releaseXfer: (h) => inner.releaseXfer(h),
        close: () => inner.close(),
      };
      return b;
    },
  };
}

async function requestOn(answers: Answers) {
  const a = await Agent.create({ name: `status-${open.length}-${process.pid}` });
  open.push(a);
  a.addPlugin(bogus(answers));
  await a.createBackend('BOGUS');
  const base = a.registerMem(a.alloc(2 * 4096).buffer).descs.at(0).addr;
  const req = a.createXferReq(
    'WRITE',
    [{ addr: base, len: 4096 }],
    [{ addr: base + 4096n, len: 4096 }],
    a.name,
  );
  return { a, req };
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

function expectBackendError(err: unknown, method: string, shown: string): void {
  expect(err).toBeInstanceOf(BackendError);
  const e = err as NixlError;
  expect(e.status).toBe(Status.ERR_BACKEND);
  expect(e.backend).toBe('BOGUS');
  expect(e.message).toContain('backend BOGUS');
  expect(e.message).toContain(`${method} returned ${shown}`);
}

describe('backend contract: typed statuses', () => {
  it.each([
    [7, '7'],
    [-10, '-10 (ERR_REMOTE_DISCONNECT)'],
    ['DONE', '"DONE"'],
    [undefined, 'undefined'],
    [Number.NaN, 'NaN'],
  ])('postXfer returning %s: BackendError naming the backend', async (value, shown) => {
    const { a, req } = await requestOn({ post: value });
    const err = thrown(() => a.postXferReq(req));
    expectBackendError(err, 'postXfer', shown);
    // The request failed with it: its status and its promise say so too.
    expect(thrown(() => a.getXferStatus(req))).toBe(err);
    await expect(req.done).rejects.toBe(err);
  });

  it.each([
    [42, '42'],
    [-1000, '-1000'],
    ['IN_PROG', '"IN_PROG"'],
    [null, 'null'],
    [1.5, '1.5'],
  ])('checkXfer returning %s: BackendError naming the backend', async (value, shown) => {
    const { a, req } = await requestOn({ post: Status.IN_PROG, check: value });
    expect(a.postXferReq(req)).toBe('IN_PROG');
    const err = thrown(() => a.getXferStatus(req));
    expectBackendError(err, 'checkXfer', shown);
    await expect(req.done).rejects.toBe(err);
  });

  it('a negative status without an error is that status’s typed error', async () => {
    const { a, req } = await requestOn({
      post: Status.IN_PROG,
      check: Status.ERR_REMOTE_DISCONNECT,
    });
    a.postXferReq(req);
    const err = thrown(() => a.getXferStatus(req)) as NixlError;
    expect(err).toBeInstanceOf(RemoteDisconnectError);
    expect(err).not.toBeInstanceOf(UnknownError);
    expect(err.backend).toBe('BOGUS');
  });

  it('valid statuses pass: SUCCESS from postXfer is DONE, IN_PROG then SUCCESS from checkXfer is DONE', async () => {
    const inline = await requestOn({});
    expect(inline.a.postXferReq(inline.req)).toBe('DONE');
    const answers: Answers = { post: Status.IN_PROG, check: Status.IN_PROG };
    const polled = await requestOn(answers);
    expect(polled.a.postXferReq(polled.req)).toBe('IN_PROG');
    expect(polled.a.getXferStatus(polled.req)).toBe('IN_PROG');
    answers.check = Status.SUCCESS;
    expect(polled.a.getXferStatus(polled.req)).toBe('DONE');
  });
});
