/**
 * The POSIX backend's storage cases, on both runners (io_uring and the forced
 * thread pool): nothing reported DONE that did not reach the file, typed
 * errors for bad descriptors, short reads, ENOSPC and O_DIRECT misalignment,
 * queryMem, and fresh processes that exit 0 with and without close().
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { Agent } from '../../src/agent.js';
import { DescList } from '../../src/descriptors.js';
import {
  BackendError,
  InvalidParamError,
  NotAllowedError,
  NotFoundError,
} from '../../src/errors.js';
import { fillPattern, sha256 } from '../../testing/index.js';

const MiB = 1 << 20;
const root = fileURLToPath(new URL('../../', import.meta.url));
const child = fileURLToPath(new URL('./fixtures/file-child.mjs', import.meta.url));
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nixl-file-storage-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
const fresh = (name: string) => join(dir, `${name}-${++counter}`);

/** Runs a command to its end; killed after `limitMs`, so a hang fails instead of stalling. */
function run(cmd: string, args: string[], limitMs = 60_000) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const p = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), limitMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
const lastJson = (s: string) => JSON.parse(s.trim().split('\n').at(-1) ?? '{}');

describe.each(['uring', 'pool'] as const)('POSIX storage (%s)', (api) => {
  let a: Agent;
  let mem: Buffer;
  let base: bigint;
  const fds: number[] = [];
  const open = (path: string, flags: string | number) => {
    const fd = openSync(path, flags);
    fds.push(fd);
    return fd;
  };
  const local = (off: number, len: number) => [{ addr: base + BigInt(off), len, devId: 0 }];
  const file = (fd: number, off: number, len: number) =>
    DescList.from('FILE', [{ addr: BigInt(off), len, devId: fd }]);

  beforeAll(async () => {
    a = await Agent.create({
      name: `file-storage-${api}-${process.pid}`,
      backends: [{ type: 'POSIX', params: { api_type: api } }],
    });
    mem = a.alloc(32 * MiB).buffer;
    base = a.registerMem(mem).descs.at(0).addr;
  });
  afterAll(async () => {
    await a?.close();
    for (const fd of fds.splice(0)) closeSync(fd);
  });

  it(`runs on ${api}`, () => {
    expect((a.backends[0] as unknown as { api: string }).api).toBe(api);
  });

  it('WRITE reaches the file and READ brings it back, verified by hash', async () => {
    const path = fresh('rw');
    const fd = open(path, 'w+');
    a.registerMem([{ addr: 0, len: 16 * MiB, devId: fd }], { memType: 'FILE' });
    fillPattern(mem.subarray(0, 16 * MiB), 5);
    await a.write(local(0, 16 * MiB), file(fd, 0, 16 * MiB), a.name);
    expect(sha(readFileSync(path))).toBe(sha(mem.subarray(0, 16 * MiB)));
    await a.read(local(16 * MiB, 16 * MiB), file(fd, 0, 16 * MiB), a.name);
    expect(sha(mem.subarray(16 * MiB))).toBe(sha(mem.subarray(0, 16 * MiB)));
  });

  it('a READ past the end of the file fails with BackendError (short read), never DONE', async () => {
    const path = fresh('short');
    writeFileSync(path, Buffer.alloc(MiB + 100, 1));
    const fd = open(path, 'r+');
    a.registerMem([{ addr: 0, len: 4 * MiB, devId: fd }], { memType: 'FILE' });
    const err = await a.read(local(0, 2 * MiB), file(fd, 0, 2 * MiB), a.name).catch((e) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(err.message).toMatch(/short read: file #\d+ ends at byte 1048676/);
    // Small enough to be tried inside postXferReq (inline_bytes): the same error.
    const small = await a.read(local(0, 4096), file(fd, MiB, 4096), a.name).catch((e) => e);
    expect(small).toBeInstanceOf(BackendError);
    expect(small.message).toMatch(/short read: file #\d+ ends at byte 1048676/);
  });

  it('a file truncated under a READ: DONE only with the bytes it had, else a short read', async () => {
    const path = fresh('trunc');
    const fd = open(path, 'w+');
    a.registerMem([{ addr: 0, len: 16 * MiB, devId: fd }], { memType: 'FILE' });
    fillPattern(mem.subarray(0, 16 * MiB), 9);
    await a.write(local(0, 16 * MiB), file(fd, 0, 16 * MiB), a.name);
    const want = sha(mem.subarray(0, 16 * MiB));
    mem.fill(0, 16 * MiB);
    const req = a.createXferReq('READ', local(16 * MiB, 16 * MiB), file(fd, 0, 16 * MiB), a.name);
    a.postXferReq(req);
    ftruncateSync(fd, 3 * MiB); // under the transfer, or after it
    const err = await req.wait({ signal: AbortSignal.timeout(30_000) }).catch((e) => e);
    if (err) {
      expect(err).toBeInstanceOf(BackendError);
      expect(err.message).toMatch(/short read/);
    } else {
      expect(sha(mem.subarray(16 * MiB))).toBe(want);
    }
    req.release();
    // Truncated before the post: always a short read.
    await expect(a.read(local(16 * MiB, 16 * MiB), file(fd, 0, 16 * MiB), a.name)).rejects.toThrow(
      /short read/,
    );
  });

  it('a file removed under a WRITE: the open file still gets every byte (POSIX unlink)', async () => {
    const path = fresh('unlinked');
    const fd = open(path, 'w+');
    a.registerMem([{ addr: 0, len: 16 * MiB, devId: fd }], { memType: 'FILE' });
    fillPattern(mem.subarray(0, 16 * MiB), 13);
    const req = a.createXferReq('WRITE', local(0, 16 * MiB), file(fd, 0, 16 * MiB), a.name);
    a.postXferReq(req);
    unlinkSync(path);
    await req.wait({ signal: AbortSignal.timeout(30_000) });
    req.release();
    mem.fill(0, 16 * MiB);
    await a.read(local(16 * MiB, 16 * MiB), file(fd, 0, 16 * MiB), a.name);
    const expected = Buffer.alloc(16 * MiB);
    fillPattern(expected, 13);
    expect(sha(mem.subarray(16 * MiB))).toBe(sha(expected));
  });

  it('bad descriptors are refused with InvalidParamError and register nothing', async () => {
    const reg = (devId: number) =>
      a.registerMem([{ addr: 0, len: 4096, devId }], { memType: 'FILE' });
    // The agent reports a region no backend took as BackendError, the backend's error its cause.
    const refusal = (devId: number) => {
      try {
        reg(devId);
      } catch (err) {
        return (err as Error).cause;
      }
      return undefined;
    };
    expect(refusal(999_999)).toBeInstanceOf(InvalidParamError);
    expect(() => reg(999_999)).toThrow(/not an open file descriptor/);
    const dirFd = open(dir, 'r');
    expect(() => reg(dirFd)).toThrow(/not a regular file or block device/);
    expect(refusal(dirFd)).toBeInstanceOf(InvalidParamError);
    // Nothing was left registered: the same range registers fine with a real file.
    const fd = open(fresh('ok'), 'w+');
    a.registerMem([{ addr: 0, len: 4096, devId: fd }], { memType: 'FILE' }).close();
    expect(() =>
      a.registerMem([{ addr: 0, len: 4096, devId: 1, metaInfo: new Uint8Array([0xff, 0xfe]) }], {
        memType: 'FILE',
      }),
    ).toThrow(/metaInfo must be a file path/);
  });

  it('a read-only file refuses WRITE up front (NotAllowedError) and serves READ', async () => {
    const path = fresh('ro');
    writeFileSync(path, Buffer.alloc(8192, 7));
    const fd = open(path, 'r');
    a.registerMem([{ addr: 0, len: 8192, devId: fd }], { memType: 'FILE' });
    expect(() => a.createXferReq('WRITE', local(0, 8192), file(fd, 0, 8192), a.name)).toThrow(
      NotAllowedError,
    );
    await a.read(local(0, 8192), file(fd, 0, 8192), a.name);
    expect(mem.subarray(0, 8192).every((b) => b === 7)).toBe(true);
    expect(readFileSync(path).every((b) => b === 7)).toBe(true);
  });

  it('a deregistered file refuses new requests; its descriptor closes with the registration', async () => {
    const fd = open(fresh('dereg'), 'w+');
    const reg = a.registerMem([{ addr: 0, len: 8192, devId: fd }], { memType: 'FILE' });
    reg.close();
    expect(() => a.createXferReq('WRITE', local(0, 8192), file(fd, 0, 8192), a.name)).toThrow(
      NotFoundError,
    );
  });

  it('notifications are refused: a file has no one to tell', async () => {
    const fd = open(fresh('notif'), 'w+');
    a.registerMem([{ addr: 0, len: 4096, devId: fd }], { memType: 'FILE' });
    expect(() =>
      a.createXferReq('WRITE', local(0, 4096), file(fd, 0, 4096), a.name, { notif: 'x' }),
    ).toThrow(InvalidParamError);
  });

  it('released while in flight: no crash, and the slot serves the next request', async () => {
    const fd = open(fresh('release'), 'w+');
    a.registerMem([{ addr: 0, len: 32 * MiB, devId: fd }], { memType: 'FILE' });
    for (let i = 0; i < 5; i++) {
      const req = a.createXferReq('WRITE', local(0, 32 * MiB), file(fd, 0, 32 * MiB), a.name);
      a.postXferReq(req);
      req.release();
    }
    fillPattern(mem.subarray(0, MiB), 17);
    await a.write(local(0, MiB), file(fd, 0, MiB), a.name);
    await a.read(local(MiB, MiB), file(fd, 0, MiB), a.name);
    expect(sha(mem.subarray(MiB, 2 * MiB))).toBe(sha(mem.subarray(0, MiB)));
  });

  it('close() with transfers in flight: resolves, and each request ends canceled or verified DONE', async () => {
    const b = await Agent.create({
      name: `file-close-${api}-${process.pid}`,
      backends: [{ type: 'POSIX', params: { api_type: api } }],
    });
    const bmem = b.alloc(32 * MiB).buffer;
    const bbase = b.registerMem(bmem).descs.at(0).addr;
    const path = fresh('close');
    const fd = open(path, 'w+');
    ftruncateSync(fd, 32 * MiB);
    b.registerMem([{ addr: 0, len: 32 * MiB, devId: fd }], { memType: 'FILE' });
    fillPattern(bmem, 29);
    const req = b.createXferReq(
      'WRITE',
      [{ addr: bbase, len: 32 * MiB, devId: 0 }],
      file(fd, 0, 32 * MiB),
      b.name,
    );
    b.postXferReq(req);
    const outcome = req.done.then(
      () => 'DONE',
      (e: Error) => e.constructor.name,
    );
    const t0 = Date.now();
    await b.close();
    expect(Date.now() - t0).toBeLessThan(10_000);
    const end = await outcome;
    if (end === 'DONE') expect(sha(readFileSync(path))).toBe(sha(bmem));
    else expect(end).toBe('CanceledError');
  });

  it('ENOSPC: a WRITE to a full filesystem fails with BackendError naming it (fresh process, small tmpfs)', async () => {
    const mnt = fresh('tmpfs');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(mnt);
    const cfg = JSON.stringify({ api, path: `${mnt}/f`, bytes: 4 * MiB, close: true });
    const r = await run('unshare', [
      '-m',
      'bash',
      '-c',
      `mount -t tmpfs -o size=1m tmpfs "$0" && exec node "$1" "$2"`,
      mnt,
      child,
      cfg,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = lastJson(r.stdout);
    expect(out.api).toBe(api);
    expect(out.status).toBe('error');
    expect(out.errName).toBe('BackendError');
    expect(out.message).toMatch(/No space left on device \(ENOSPC\)/);
  });

  it.each([true, false])(
    'a fresh process writes by path and exits 0 (close() called: %s)',
    async (close) => {
      const path = fresh('child');
      const r = await run('node', [child, JSON.stringify({ api, path, bytes: 8 * MiB, close })]);
      expect(r.code, r.stderr).toBe(0);
      const out = lastJson(r.stdout);
      expect(out.status).toBe('DONE');
      expect(sha(readFileSync(path))).toBe(out.sha);
    },
  );

  it.each([false, true])(
    'a worker thread moves data and ends cleanly (exits with a WRITE in flight: %s)',
    async (exitInFlight) => {
      const path = fresh('worker');
      const worker = fileURLToPath(new URL('./fixtures/file-worker.cjs', import.meta.url));
      const cfg = { api, path, bytes: exitInFlight ? 64 * MiB : 4 * MiB, exitInFlight };
      const r = await run('node', [worker, child, JSON.stringify(cfg)]);
      expect(r.code, r.stderr).toBe(0);
      expect(lastJson(r.stdout)).toEqual({ workerExit: 0 });
      if (!exitInFlight) {
        const out = JSON.parse(r.stdout.trim().split('\n').at(-2)!);
        expect(out.status).toBe('DONE');
        expect(sha(readFileSync(path))).toBe(out.sha);
      }
    },
  );

  it('a process that exits with a WRITE in flight exits 0', async () => {
    const path = fresh('inflight');
    const r = await run('node', [
      child,
      JSON.stringify({ api, path, bytes: 64 * MiB, exitInFlight: true }),
    ]);
    expect(r.code, r.stderr).toBe(0);
  });
});

describe('POSIX where io_uring is refused (seccomp, as in a sandbox)', () => {
  let helper: string;
  beforeAll(async () => {
    // A tiny C launcher that installs the filter and execs node (gcc is a build requirement).
    helper = join(dir, 'no-io-uring');
    const src = fileURLToPath(new URL('./fixtures/no-io-uring.c', import.meta.url));
    const r = await run('gcc', ['-O2', '-o', helper, src]);
    expect(r.code, r.stderr).toBe(0);
  });

  it('auto falls back to the thread pool and moves the data', async () => {
    const path = fresh('seccomp-auto');
    const cfg = JSON.stringify({ api: 'auto', path, bytes: 4 * MiB, close: true });
    const r = await run(helper, ['node', child, cfg]);
    expect(r.code, r.stderr).toBe(0);
    const out = lastJson(r.stdout);
    expect(out).toMatchObject({ api: 'pool', status: 'DONE' });
    expect(sha(readFileSync(path))).toBe(out.sha);
  });

  it('api_type=uring refuses to start with NotSupportedError saying why', async () => {
    const cfg = JSON.stringify({ api: 'uring', path: fresh('seccomp-uring'), bytes: 4096 });
    const r = await run(helper, ['node', child, cfg]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(
      /NotSupportedError: .*io_uring is unavailable here: io_uring_queue_init/,
    );
  });
});

describe('POSIX O_DIRECT', () => {
  let a: Agent | undefined;
  afterEach(async () => {
    await a?.close();
    a = undefined;
  });

  it('checks offset, length and address alignment up front, and moves aligned data', async (ctx) => {
    // On the worktree's disk, not /tmp: some filesystems (older tmpfs) refuse O_DIRECT.
    const path = join(root, `.nixl-odirect-${process.pid}`);
    try {
      a = await Agent.create({
        name: `file-direct-${process.pid}`,
        backends: [{ type: 'POSIX', params: { o_direct: 'true' } }],
      });
      const mem = a.alloc(4 * MiB).buffer; // page-aligned
      const base = a.registerMem(mem).descs.at(0).addr;
      try {
        a.registerMem(
          [{ addr: 0, len: 2 * MiB, devId: 3, metaInfo: new TextEncoder().encode(path) }],
          { memType: 'FILE' },
        );
      } catch (err) {
        if (/EINVAL/.test(String(err))) ctx.skip(); // the filesystem has no O_DIRECT
        throw err;
      }
      const f = (off: number, len: number) =>
        DescList.from('FILE', [{ addr: BigInt(off), len, devId: 3 }]);
      const m = (off: number, len: number) => [{ addr: base + BigInt(off), len, devId: 0 }];
      expect(() => a!.createXferReq('WRITE', m(0, 4096), f(100, 4096), a!.name)).toThrow(
        /O_DIRECT\): file offset 100 not aligned to 4096 bytes/,
      );
      expect(() => a!.createXferReq('WRITE', m(0, 4000), f(0, 4000), a!.name)).toThrow(
        /length 4000 not aligned/,
      );
      expect(() => a!.createXferReq('WRITE', m(8, 4096), f(0, 4096), a!.name)).toThrow(
        InvalidParamError,
      );
      fillPattern(mem.subarray(0, 2 * MiB), 23);
      await a.write(m(0, 2 * MiB), f(0, 2 * MiB), a.name);
      await a.read(m(2 * MiB, 2 * MiB), f(0, 2 * MiB), a.name);
      expect(sha256(mem.subarray(2 * MiB))).toBe(sha256(mem.subarray(0, 2 * MiB)));
      expect(sha(readFileSync(path))).toBe(sha(mem.subarray(0, 2 * MiB)));
    } finally {
      rmSync(path, { force: true });
    }
  });
});

describe('POSIX queryMem', () => {
  it('answers exists, size and mode for paths and descriptors, undefined for a missing file', async () => {
    const a = await Agent.create({ name: `file-query-${process.pid}`, backends: ['POSIX'] });
    try {
      expect(a.getPluginParams('POSIX').mems).toEqual(['DRAM', 'FILE']);
      const path = join(dir, 'query');
      writeFileSync(path, Buffer.alloc(12345), { mode: 0o640 });
      const fd = openSync(path, 'r');
      try {
        const [byPath, missing, byFd] = a.queryMem(
          [
            { addr: 0, len: 0, metaInfo: new TextEncoder().encode(path) },
            { addr: 0, len: 0, metaInfo: new TextEncoder().encode(join(dir, 'absent')) },
            { addr: 0, len: 0, devId: fd },
          ],
          { backend: 'POSIX', memType: 'FILE' },
        );
        expect(byPath).toMatchObject({
          accessible: 'true',
          exists: 'true',
          size: '12345',
          mode: '640',
        });
        expect(missing).toBeUndefined();
        expect(byFd).toMatchObject({ exists: 'true', size: '12345', mode: '640', type: 'file' });
      } finally {
        closeSync(fd);
      }
    } finally {
      await a.close();
    }
  });
});
