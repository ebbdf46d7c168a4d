/**
 * The OBJ backend against a real S3-API server (s3rver, started on 127.0.0.1
 * by the tests and stopped by its pid): whole-object and multipart WRITEs and
 * ranged READs verified by hash through the SDK directly, partial WRITEs,
 * queryMem, typed errors for bad input, a missing object and a store that
 * goes away mid-transfer (within the request timeout's bound).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ObjBackend } from '../../backends/obj/index.js';
import { Agent } from '../../src/agent.js';
import { DescList } from '../../src/descriptors.js';
import {
  CanceledError,
  InvalidParamError,
  NixlError,
  NotFoundError,
  NotSupportedError,
  RemoteDisconnectError,
} from '../../src/errors.js';
import { fillPattern, sha256 } from '../../testing/pattern.js';
import { getObject, putObject, s3Client } from '../s3/s3-objects.js';
import { S3Server } from '../s3/s3-server.js';

const MiB = 1024 * 1024;
const BUCKET = 'nixl-obj-tests';
const enc = new TextEncoder();

let server: S3Server;
let c: S3Client;
let n = 0;

beforeAll(async () => {
  server = await S3Server.start({ buckets: [BUCKET] });
  c = s3Client(server);
});
afterAll(async () => {
  c?.destroy();
  await server?.stop();
});

async function objAgent(params: Record<string, string> = {}): Promise<Agent> {
  return Agent.create({
    name: `obj-${process.pid}-${++n}`,
    backends: [{ type: 'OBJ', params: { ...server.params(BUCKET), ...params } }],
  });
}

/** A registered DRAM buffer of `len` bytes and its base address. */
function dram(a: Agent, len: number): { buf: Buffer; base: bigint } {
  const buf = a.alloc(len).buffer;
  const reg = a.registerMem(buf);
  return { buf, base: reg.descs.at(0).addr };
}

/** Registers object `key` as [addr, addr + len) under devId; returns its descriptor. */
function obj(a: Agent, key: string, len: number, devId: number, addr = 0) {
  a.registerMem([{ addr, len, devId, metaInfo: enc.encode(key) }], { memType: 'OBJ' });
  return (off: number, l: number) =>
    DescList.from('OBJ', [{ addr: BigInt(addr + off), len: l, devId }]);
}

function uniqueKey(prefix: string): string {
  return `${prefix}/${randomBytes(6).toString('hex')}`;
}

/** The S3 operations a backend's client sends, by command name. */
function recordCommands(a: Agent): string[] {
  const seen: string[] = [];
  const b = a.backends[0] as ObjBackend;
  b.store.client.middlewareStack.add(
    (next, context) => async (args) => {
      seen.push(context.commandName ?? '?');
      return next(args);
    },
    { step: 'initialize', name: `record-${++n}` },
  );
  return seen;
}

/** The most S3 requests a backend's client had in flight at once (retries count once). */
function trackConcurrency(a: Agent): { max: number } {
  const seen = { max: 0 };
  let now = 0;
  (a.backends[0] as ObjBackend).store.client.middlewareStack.add(
    (next) => async (args) => {
      seen.max = Math.max(seen.max, ++now);
      try {
        return await next(args);
      } finally {
        now--;
      }
    },
    { step: 'initialize', name: `concurrency-${++n}` },
  );
  return seen;
}

describe('OBJ backend against s3rver', () => {
  it('a whole-region WRITE is one PUT; READ fills DRAM from ranged GETs; both verified by hash', async () => {
    const a = await objAgent();
    try {
      const len = 3 * MiB + 17;
      const { buf, base } = dram(a, 2 * len);
      const key = uniqueKey('whole');
      const o = obj(a, key, len, 1);
      fillPattern(buf.subarray(0, len), 5);
      const seen = recordCommands(a);
      await a.write([{ addr: base, len, devId: 0 }], o(0, len), a.name);
      expect(seen).toEqual(['PutObjectCommand']);
      expect(sha256(await getObject(c, BUCKET, key))).toBe(sha256(buf.subarray(0, len)));
      // Read a middle range back into the second half.
      await a.read([{ addr: base + BigInt(len), len: 1000 }], o(12345, 1000), a.name);
      expect(sha256(buf.subarray(len, len + 1000))).toBe(sha256(buf.subarray(12345, 13345)));
    } finally {
      await a.close();
    }
  });

  it('a large WRITE is a multipart upload, verified by hash; a large READ is split into ranged GETs', async () => {
    const a = await objAgent({
      multipart_threshold: String(5 * MiB),
      part_size: String(5 * MiB),
      concurrency: '4',
    });
    try {
      const len = 23 * MiB + 3; // 5 parts, the last one short
      const { buf, base } = dram(a, len);
      const key = uniqueKey('multipart');
      const o = obj(a, key, len, 2);
      fillPattern(buf, 6);
      const want = sha256(buf);
      const seen = recordCommands(a);
      await a.write([{ addr: base, len }], o(0, len), a.name, {
        signal: AbortSignal.timeout(60_000),
      });
      expect(seen.filter((x) => x === 'UploadPartCommand')).toHaveLength(5);
      expect(seen).toContain('CreateMultipartUploadCommand');
      expect(seen).toContain('CompleteMultipartUploadCommand');
      expect(seen).not.toContain('PutObjectCommand');
      expect(sha256(await getObject(c, BUCKET, key))).toBe(want);
      buf.fill(0);
      seen.length = 0;
      await a.read([{ addr: base, len }], o(0, len), a.name, {
        signal: AbortSignal.timeout(60_000),
      });
      expect(seen.filter((x) => x === 'GetObjectCommand')).toHaveLength(5);
      expect(sha256(buf)).toBe(want);
    } finally {
      await a.close();
    }
  }, 120_000);

  it('a partial WRITE changes only its bytes; a WRITE to a new object zero-fills before its offset', async () => {
    const a = await objAgent();
    try {
      const key = uniqueKey('partial');
      const before = randomBytes(100_000);
      await putObject(c, BUCKET, key, before);
      const { buf, base } = dram(a, 4096);
      fillPattern(buf, 7);
      const o = obj(a, key, 200_000, 3);
      await a.write(
        [
          { addr: base, len: 10 },
          { addr: base + 100n, len: 50 },
        ],
        DescList.from('OBJ', [
          { addr: 10n, len: 10, devId: 3 },
          { addr: 99_990n, len: 50, devId: 3 }, // grows the object by 40 bytes
        ]),
        a.name,
      );
      const expected = Buffer.concat([before, Buffer.alloc(40)]);
      buf.subarray(0, 10).copy(expected, 10);
      buf.subarray(100, 150).copy(expected, 99_990);
      expect(sha256(await getObject(c, BUCKET, key))).toBe(sha256(expected));
      void o;
      // A new object written at an offset: zeros before it.
      const fresh = uniqueKey('fresh');
      const f = obj(a, fresh, 1000, 4);
      await a.write([{ addr: base, len: 100 }], f(500, 100), a.name);
      const got = await getObject(c, BUCKET, fresh);
      expect(got.length).toBe(600);
      expect(sha256(got)).toBe(sha256(Buffer.concat([Buffer.alloc(500), buf.subarray(0, 100)])));
    } finally {
      await a.close();
    }
  });

  it('two partial WRITEs of one object posted at once both land (patches of an object take turns)', async () => {
    const a = await objAgent();
    try {
      const key = uniqueKey('turns');
      await putObject(c, BUCKET, key, new Uint8Array(MiB));
      const { buf, base } = dram(a, 2 * 4096);
      fillPattern(buf, 12);
      const o = obj(a, key, MiB, 11);
      const r1 = a.createXferReq('WRITE', [{ addr: base, len: 4096 }], o(1000, 4096), a.name);
      const r2 = a.createXferReq(
        'WRITE',
        [{ addr: base + 4096n, len: 4096 }],
        o(500_000, 4096),
        a.name,
      );
      a.postXferReq(r1);
      a.postXferReq(r2);
      await Promise.all([r1.done, r2.done]);
      const want = Buffer.alloc(MiB);
      buf.subarray(0, 4096).copy(want, 1000);
      buf.subarray(4096).copy(want, 500_000);
      expect(sha256(await getObject(c, BUCKET, key))).toBe(sha256(want));
    } finally {
      await a.close();
    }
  });

  it('devId names the object when there is no metaInfo; s3://bucket/key names another bucket', async () => {
    const a = await objAgent();
    try {
      const { buf, base } = dram(a, 64);
      fillPattern(buf, 8);
      a.registerMem([{ addr: 0, len: 64, devId: 4242 }], { memType: 'OBJ' });
      await a.write(
        [{ addr: base, len: 64 }],
        DescList.from('OBJ', [{ addr: 0n, len: 64, devId: 4242 }]),
        a.name,
      );
      expect(sha256(await getObject(c, BUCKET, '4242'))).toBe(sha256(buf));
      // The same devId cannot name another object.
      expect(() =>
        a.registerMem([{ addr: 1000, len: 8, devId: 4242, metaInfo: enc.encode('other') }], {
          memType: 'OBJ',
        }),
      ).toThrow(NixlError);
      await c.send(
        new (await import('@aws-sdk/client-s3')).CreateBucketCommand({ Bucket: 'nixl-other' }),
      );
      a.registerMem([{ addr: 0, len: 64, devId: 5, metaInfo: enc.encode('s3://nixl-other/k/1') }], {
        memType: 'OBJ',
      });
      await a.write(
        [{ addr: base, len: 64 }],
        DescList.from('OBJ', [{ addr: 0n, len: 64, devId: 5 }]),
        a.name,
      );
      expect(sha256(await getObject(c, 'nixl-other', 'k/1'))).toBe(sha256(buf));
    } finally {
      await a.close();
    }
  });

  it('queryMem: exists and size from a HEAD, undefined for a missing object', async () => {
    const a = await objAgent();
    try {
      const key = uniqueKey('query');
      await putObject(c, BUCKET, key, new Uint8Array(12345));
      const info = a.queryMem(
        [
          { addr: 0, len: 0, devId: 1, metaInfo: enc.encode(key) },
          { addr: 0, len: 0, devId: 2, metaInfo: enc.encode(uniqueKey('missing')) },
        ],
        { backend: 'OBJ', memType: 'OBJ' },
      );
      expect(info[0]).toMatchObject({ exists: 'true', size: '12345', bucket: BUCKET, key });
      expect(info[1]).toBeUndefined();
      const b = a.backends[0] as ObjBackend;
      const again = await b.queryObjects([
        { memType: 'OBJ', addr: 0, len: 0, devId: 1, metaInfo: enc.encode(key) },
      ]);
      expect(again[0]?.size).toBe('12345');
      expect(() => a.queryMem([new Uint8Array(4)], { backend: 'OBJ' })).toThrow(InvalidParamError);
    } finally {
      await a.close();
    }
  });

  it('a READ of a missing object or past its end fails with NotFoundError, and nothing is DONE', async () => {
    const a = await objAgent();
    try {
      const { buf, base } = dram(a, 4096);
      buf.fill(0xee);
      const o = obj(a, uniqueKey('nosuchkey'), 4096, 6);
      const req = a.createXferReq('READ', [{ addr: base, len: 100 }], o(0, 100), a.name);
      a.postXferReq(req);
      await expect(req.done).rejects.toBeInstanceOf(NotFoundError);
      expect(() => a.getXferStatus(req)).toThrow(NotFoundError);
      req.release();
      const key = uniqueKey('short');
      await putObject(c, BUCKET, key, new Uint8Array(50));
      const s = obj(a, key, 4096, 7);
      await expect(a.read([{ addr: base, len: 100 }], s(0, 100), a.name)).rejects.toBeInstanceOf(
        NotFoundError,
      );
      await expect(a.read([{ addr: base, len: 10 }], s(60, 10), a.name)).rejects.toBeInstanceOf(
        NotFoundError,
      );
    } finally {
      await a.close();
    }
  });

  it('bad input: typed errors, nothing registered or sent', async () => {
    await expect(objAgent({ concurrency: '0' })).rejects.toBeInstanceOf(InvalidParamError);
    await expect(objAgent({ endpoint_override: 'ftp://x' })).rejects.toBeInstanceOf(
      InvalidParamError,
    );
    await expect(objAgent({ no_such_param: '1' })).rejects.toBeInstanceOf(InvalidParamError);
    await expect(objAgent({ part_size: String(MiB) })).rejects.toBeInstanceOf(InvalidParamError);
    const a = await objAgent({ bucket: '' });
    try {
      const seen = recordCommands(a);
      // No bucket anywhere, a bad bucket name, a key over 1024 bytes.
      const prev = process.env.AWS_DEFAULT_BUCKET;
      expect(() => a.registerMem([{ addr: 0, len: 8, devId: 1 }], { memType: 'OBJ' })).toThrow(
        NixlError,
      );
      expect(() =>
        a.registerMem([{ addr: 0, len: 8, devId: 2, metaInfo: enc.encode('s3://Bad_Bucket/k') }], {
          memType: 'OBJ',
        }),
      ).toThrow(NixlError);
      expect(() =>
        a.registerMem(
          [
            {
              addr: 0,
              len: 8,
              devId: 3,
              metaInfo: enc.encode(`s3://${BUCKET}/${'k'.repeat(1100)}`),
            },
          ],
          {
            memType: 'OBJ',
          },
        ),
      ).toThrow(NixlError);
      expect(prev).toBe(process.env.AWS_DEFAULT_BUCKET);
      const { base } = dram(a, 4096);
      const o = obj(a, `s3://${BUCKET}/${uniqueKey('bad')}`, 4096, 4);
      // DRAM to DRAM, OBJ on the local side, another agent, out of range.
      expect(() =>
        a.createXferReq('WRITE', [{ addr: base, len: 8 }], [{ addr: base + 8n, len: 8 }], a.name),
      ).toThrow(NotSupportedError);
      expect(() => a.createXferReq('WRITE', o(0, 8), o(8, 8), a.name)).toThrow(NixlError);
      expect(() =>
        a.createXferReq('WRITE', [{ addr: base, len: 8 }], o(0, 8), 'someone-else'),
      ).toThrow(NotFoundError);
      expect(() => a.createXferReq('WRITE', [{ addr: base, len: 8 }], o(4090, 8), a.name)).toThrow(
        NotFoundError,
      );
      expect(seen).toEqual([]);
    } finally {
      await a.close();
    }
  });

  it('release and close in flight end the request (CanceledError), no hang', async () => {
    const a = await objAgent({ multipart_threshold: String(5 * MiB), part_size: String(5 * MiB) });
    const len = 32 * MiB;
    const { base } = dram(a, len);
    const o = obj(a, uniqueKey('cancel'), len, 9);
    const req = a.createXferReq('WRITE', [{ addr: base, len }], o(0, len), a.name);
    expect(a.postXferReq(req)).toBe('IN_PROG');
    req.release();
    const req2 = a.createXferReq('WRITE', [{ addr: base, len }], o(0, len), a.name);
    a.postXferReq(req2);
    const started = Date.now();
    await a.close();
    await expect(req2.done).rejects.toBeInstanceOf(CanceledError);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('a script that forgets close() still exits, after transfers', () => {
    const script = `
      import { Agent } from ${JSON.stringify(fileURLToPath(new URL('../../src/index.ts', import.meta.url)))};
      import { DescList } from ${JSON.stringify(fileURLToPath(new URL('../../src/descriptors.ts', import.meta.url)))};
      const a = await Agent.create({ name: 'forgetful', backends: [{ type: 'OBJ', params: ${JSON.stringify(server.params(BUCKET))} }] });
      const buf = a.alloc(1024).buffer;
      const base = a.registerMem(buf).descs.at(0).addr;
      a.registerMem([{ addr: 0, len: 1024, devId: 1, metaInfo: new TextEncoder().encode('forgetful') }], { memType: 'OBJ' });
      await a.write([{ addr: base, len: 1024 }], DescList.from('OBJ', [{ addr: 0n, len: 1024, devId: 1 }]), a.name);
      await a.read([{ addr: base, len: 1024 }], DescList.from('OBJ', [{ addr: 0n, len: 1024, devId: 1 }]), a.name);
      a.queryMem([{ addr: 0, len: 0, devId: 1, metaInfo: new TextEncoder().encode('forgetful') }], { backend: 'OBJ', memType: 'OBJ' });
      console.log('done');
    `;
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        timeout: 60_000,
        encoding: 'utf8',
      },
    );
    expect(r.stdout + r.stderr).toContain('done');
    expect(r.status).toBe(0);
  }, 90_000);
});

describe('OBJ: a store that goes away', () => {
  it('a store that is not there fails the transfer with RemoteDisconnectError within the request timeout', async () => {
    const a = await Agent.create({
      name: `obj-gone-${process.pid}`,
      backends: [
        {
          type: 'OBJ',
          params: {
            ...server.params(BUCKET),
            endpoint_override: 'http://127.0.0.1:1',
            request_timeout_ms: '3000',
          },
        },
      ],
    });
    try {
      const { base } = dram(a, 4096);
      const o = obj(a, 'unreachable', 4096, 1);
      const started = Date.now();
      await expect(a.write([{ addr: base, len: 4096 }], o(0, 4096), a.name)).rejects.toBeInstanceOf(
        RemoteDisconnectError,
      );
      await expect(a.read([{ addr: base, len: 4096 }], o(0, 4096), a.name)).rejects.toBeInstanceOf(
        RemoteDisconnectError,
      );
      expect(() =>
        a.queryMem([{ addr: 0, len: 0, devId: 1, metaInfo: enc.encode('unreachable') }], {
          backend: 'OBJ',
          memType: 'OBJ',
        }),
      ).toThrow(RemoteDisconnectError);
      expect(Date.now() - started).toBeLessThan(3 * 3000 + 15_000);
    } finally {
      await a.close();
    }
  });

  it('a store that stops answering (SIGSTOP) fails a READ with RemoteDisconnectError within the request timeout', async () => {
    const timeoutMs = 2000;
    const a = await objAgent({ request_timeout_ms: String(timeoutMs), max_attempts: '1' });
    try {
      const len = 4 * MiB;
      const { buf, base } = dram(a, len);
      const key = uniqueKey('stopped');
      const o = obj(a, key, len, 1);
      await a.write([{ addr: base, len }], o(0, len), a.name);
      server.pause();
      const started = Date.now();
      try {
        await expect(a.read([{ addr: base, len }], o(0, len), a.name)).rejects.toBeInstanceOf(
          RemoteDisconnectError,
        );
      } finally {
        server.resume();
      }
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(timeoutMs - 50);
      expect(took).toBeLessThan(timeoutMs + 5000);
      // Answering again: the same backend reads it.
      buf.fill(0);
      await a.read([{ addr: base, len }], o(0, len), a.name);
      expect(sha256(buf)).toBe(sha256(await getObject(c, BUCKET, key)));
    } finally {
      await a.close();
    }
  });

  for (const op of ['READ', 'WRITE'] as const) {
    it(`the server killed mid-${op} fails it with RemoteDisconnectError in bound; after a restart the agent works again`, async () => {
      const timeoutMs = 4000;
      const a = await objAgent({
        request_timeout_ms: String(timeoutMs),
        multipart_threshold: String(5 * MiB),
        part_size: String(5 * MiB),
        concurrency: '2',
      });
      try {
        const len = 64 * MiB;
        const { buf, base } = dram(a, len);
        const key = uniqueKey(`kill-${op}`);
        const o = obj(a, key, len, 1);
        fillPattern(buf, 9);
        if (op === 'READ') {
          await a.write([{ addr: base, len }], o(0, len), a.name, {
            signal: AbortSignal.timeout(60_000),
          });
          buf.fill(0xaa);
        }
        const req = a.createXferReq(op, [{ addr: base, len }], o(0, len), a.name);
        a.postXferReq(req);
        const posted = Date.now();
        // READ: kill once the first bytes landed; WRITE: once the first parts are on their way.
        while (Date.now() - posted < 10_000) {
          if (op === 'READ' ? buf[0] !== 0xaa : Date.now() - posted > 30) break;
          await new Promise((r) => setTimeout(r, 1));
        }
        const killed = Date.now();
        await server.kill('SIGKILL');
        let outcome: unknown = 'DONE';
        try {
          await req.wait({ signal: AbortSignal.timeout(timeoutMs * 3 + 10_000) });
        } catch (err) {
          outcome = err;
        }
        const settledMs = Date.now() - killed;
        await server.start();
        if (outcome === 'DONE') {
          // Only a transfer that really finished may say so.
          const want = Buffer.alloc(len);
          fillPattern(want, 9);
          if (op === 'READ') expect(sha256(buf)).toBe(sha256(want));
          else expect(sha256(await getObject(c, BUCKET, key))).toBe(sha256(want));
        } else {
          expect(outcome).toBeInstanceOf(RemoteDisconnectError);
          expect(settledMs).toBeLessThan(timeoutMs + 5000);
        }
        console.log(
          `[obj-kill] ${op}: ${outcome === 'DONE' ? 'DONE (verified)' : (outcome as Error).name} ${settledMs} ms after the kill`,
        );
        req.release();
        // The store is back: the same agent moves data again.
        const small = Buffer.from(buf.subarray(0, 4096));
        await a.write([{ addr: base, len: 4096 }], o(0, 4096), a.name);
        expect(sha256(await getObject(c, BUCKET, key, 0, 4096))).toBe(sha256(small));
      } finally {
        await a.close();
      }
    }, 120_000);
  }
});
