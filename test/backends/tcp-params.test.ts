/**
 * Bad TCP parameters and malformed connection info get typed errors that say
 * what was wrong, and change nothing.
 */
import { createServer } from 'node:net';

import { describe, expect, it } from 'vitest';

import { decodeConnInfo, encodeConnInfo } from '../../backends/tcp/conn-info.js';
import { DEFAULT_PARAMS, parseParams } from '../../backends/tcp/params.js';
import { Agent } from '../../src/agent.js';
import { InvalidParamError, MismatchError } from '../../src/errors.js';
import { encodeMetadata, decodeMetadata } from '../../src/metadata.js';

describe('TCP params', () => {
  it('parses the defaults', () => {
    const p = parseParams({ ...DEFAULT_PARAMS });
    expect(p).toMatchObject({
      bindAddr: '127.0.0.1',
      port: 0,
      advertiseAddr: '127.0.0.1',
      streams: 2,
      sameHost: true,
      busyPollUs: 0,
      copyThreads: 2,
    });
  });

  it.each([
    [{ port: '70000' }, /port must be an integer in 0..65535/],
    [{ port: 'abc' }, /port/],
    [{ streams: '0' }, /streams/],
    [{ bind_addr: 'localhost' }, /bind_addr must be a numeric/],
    [{ advertise_addr: 'example.com' }, /advertise_addr/],
    [{ same_host: 'yes' }, /same_host must be 'auto' or 'off'/],
    [{ timeout_ms: '-1' }, /timeout_ms/],
    [{ busy_poll_us: '1.5' }, /busy_poll_us/],
    [{ copy_threads: '0' }, /copy_threads must be an integer in 1..16/],
    [{ colour: 'blue' }, /unknown parameter 'colour'/],
  ])('refuses %o', (bad, msg) => {
    expect(() => parseParams({ ...DEFAULT_PARAMS, ...bad })).toThrow(InvalidParamError);
    expect(() => parseParams({ ...DEFAULT_PARAMS, ...bad })).toThrow(msg);
  });

  it('a wildcard bind advertises a concrete address', () => {
    const p = parseParams({ ...DEFAULT_PARAMS, bind_addr: '0.0.0.0' });
    expect(p.advertiseAddr).not.toBe('0.0.0.0');
  });

  it('an agent with bad params is not created', async () => {
    await expect(
      Agent.create({
        name: 'bad-params',
        backends: [{ type: 'TCP', params: { streams: 'many' } }],
      }),
    ).rejects.toBeInstanceOf(InvalidParamError);
  });

  it('a port in use is reported, naming it', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    try {
      await expect(
        Agent.create({
          name: 'busy-port',
          backends: [{ type: 'TCP', params: { port: String(port) } }],
        }),
      ).rejects.toThrow(new RegExp(`127.0.0.1:${port}`));
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });
});

describe('TCP connection info', () => {
  const good = {
    host: '127.0.0.1',
    port: 4242,
    secret: new Uint8Array(32).fill(7),
    publicKey: new Uint8Array(32).fill(9),
    unixName: 'nixl-tcp-1-abc',
  };
  // Offsets in the layout of backends/tcp/conn-info.ts: the unix name length at 67.
  const hostLenAt = 67 + 1 + good.unixName.length;

  it('round-trips', () => {
    expect(decodeConnInfo(encodeConnInfo(good), 'x')).toEqual(good);
  });

  it.each([
    ['truncated', (b: Buffer) => b.subarray(0, 20)],
    ['another version', (b: Buffer) => (b.writeUInt8(9, 0), b)],
    ['version 1 (no identity key)', (b: Buffer) => (b.writeUInt8(1, 0), b)],
    ['host length mismatch', (b: Buffer) => (b.writeUInt8(200, hostLenAt), b)],
    ['unix name length mismatch', (b: Buffer) => (b.writeUInt8(250, 67), b)],
    ['port 0', (b: Buffer) => (b.writeUInt16LE(0, 1), b)],
    [
      'a host that is not an IP',
      (b: Buffer) =>
        Buffer.concat([b.subarray(0, hostLenAt), Buffer.from([4]), Buffer.from('evil')]),
    ],
  ])('refuses %s with MismatchError', (_what, mutate) => {
    const b = mutate(Buffer.from(encodeConnInfo(good)));
    expect(() => decodeConnInfo(b, 'peer')).toThrow(MismatchError);
  });

  it('metadata with malformed TCP connection info is refused and leaves nothing behind', async () => {
    const a = await Agent.create({ name: `ci-a-${process.pid}`, backends: [{ type: 'TCP' }] });
    const b = await Agent.create({ name: `ci-b-${process.pid}`, backends: [{ type: 'TCP' }] });
    try {
      const md = decodeMetadata(b.getLocalMD());
      md.conns = md.conns.map((c) => ({ ...c, connInfo: c.connInfo.subarray(0, 10) }));
      expect(() => a.loadRemoteMD(encodeMetadata(md))).toThrow(MismatchError);
      expect(a.checkRemoteMD(b.name)).toBe(false);
      // The genuine metadata still loads.
      expect(a.loadRemoteMD(b.getLocalMD())).toBe(b.name);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
