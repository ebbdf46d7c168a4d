/**
 * Staged writes into a peer's "VRAM" between processes (host memory standing
 * in for it, host copy engines on both sides): the initiator stages and
 * announces each chunk, the target's VramLanding pulls it into its own ring
 * and copies it into the region, and the application's notification arrives
 * after all of it. The target refuses what it did not expose.
 */
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { encodeControl } from '../../backends/tcp/vram-control.js';
import { VramStager } from '../../backends/tcp/vram-stager.js';
import { Agent } from '../../src/agent.js';
import { InvalidParamError } from '../../src/errors.js';
import { native } from '../../src/native.js';
import { JsonLineChild } from '../../testing/json-line-child.js';
import { fillPattern, sha256 } from '../../testing/pattern.js';

const MiB = 1 << 20;
const SIZE = 20 * MiB + 4097;
const SCRIPT = fileURLToPath(new URL('./fixtures/landing-peer.ts', import.meta.url));

let agent: Agent;
let peer: JsonLineChild<any>;
let token: Buffer;
let stager: VramStager;
const send = (c: Record<string, unknown> & { cmd: string }) => peer.send(c, 60_000);

beforeAll(async () => {
  agent = await Agent.create({ name: 'a', backends: ['TCP'] });
  peer = new JsonLineChild(SCRIPT, 'landing peer');
  const r = await send({ cmd: 'init', name: 'b', size: 2 * SIZE, chunk: MiB });
  token = Buffer.from(r.token, 'base64');
  agent.loadRemoteMD(Buffer.from(r.md, 'base64'));
  // Chunks of 2 MiB here, 1 MiB at the target: the smaller one is used.
  stager = VramStager.create(agent, { copyEngine: 'host', chunkBytes: 2 * MiB, slots: 3 });
  // The target reads from the staging ring: it needs metadata that has it.
  await send({ cmd: 'load', md: Buffer.from(agent.getLocalMD()).toString('base64') });
});

afterAll(async () => {
  await stager?.close();
  await send({ cmd: 'close' }).catch(() => {});
  await agent?.close();
});

function fakeVram(bytes: number, seed: number): { buf: Buffer; addr: bigint } {
  const buf = agent.alloc(bytes).buffer;
  fillPattern(buf, seed);
  return { buf, addr: native().addressOf(buf) };
}

async function waitNotifs(n: number): Promise<{ from: string; text: string; at: string }[]> {
  const got: any[] = [];
  for (let i = 0; i < 500 && got.length < n; i++) {
    got.push(...(await send({ cmd: 'notifs' })).list);
    if (got.length < n) await new Promise((r) => setTimeout(r, 10));
  }
  return got;
}

describe('VramStager.writeToPeerVram → VramLanding (host copy engines)', () => {
  it('lands every chunk in the peer region; the notification comes after the data', async () => {
    const src = fakeVram(SIZE, 77);
    const stats = await stager.writeToPeerVram({ addr: src.addr, len: SIZE }, token, 'b', {
      dstOffset: SIZE,
      notif: 'landed',
    });
    expect(stats.chunks).toBe(21);
    expect((await send({ cmd: 'hash', off: SIZE, len: SIZE })).hash).toBe(sha256(src.buf));
    const [n] = await waitNotifs(1);
    expect(n!.from).toBe('a');
    expect(n!.text).toBe('landed');
    // The whole region when the notification arrived: first half zero, second the data.
    expect(n!.at).toBe(sha256(Buffer.concat([Buffer.alloc(SIZE), src.buf])));
  });

  it('ordinary notifications still reach the target application', async () => {
    agent.genNotif('b', 'hello');
    const [n] = await waitNotifs(1);
    expect(n!.text).toBe('hello');
  });

  it('refuses ranges outside the exposed region and bad tokens before anything moves', () => {
    const src = fakeVram(MiB, 1);
    expect(() =>
      stager.writeToPeerVram({ addr: src.addr, len: MiB }, token, 'b', { dstOffset: 2 * SIZE }),
    ).toThrow(InvalidParamError);
    expect(() =>
      stager.writeToPeerVram({ addr: src.addr, len: MiB }, Buffer.from('{"landing":1}'), 'b'),
    ).toThrow(/bad VRAM landing token/);
  });

  it('the target refuses a push into a region it did not expose, or past its end, and writes nothing', async () => {
    const before = (await send({ cmd: 'hash', off: 0, len: 2 * SIZE })).hash;
    const src = fakeVram(MiB, 5);
    const acks: string[] = [];
    const listener = (_from: string, msg: Uint8Array) => acks.push(Buffer.from(msg).toString());
    agent.on('notif', listener);
    try {
      const push = (region: number, off: number) =>
        agent.genNotif(
          'b',
          encodeControl({
            t: 'push',
            x: 'forged',
            k: region,
            src: String(src.addr),
            off,
            len: MiB,
            region,
          }),
        );
      push(999, 0);
      push(1, 2 * SIZE - 10);
      for (let i = 0; i < 300 && acks.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    } finally {
      agent.off('notif', listener);
    }
    expect(acks.some((a) => a.includes('no exposed VRAM region 999'))).toBe(true);
    expect(acks.some((a) => a.includes('outside'))).toBe(true);
    expect((await send({ cmd: 'hash', off: 0, len: 2 * SIZE })).hash).toBe(before);
  });
});
