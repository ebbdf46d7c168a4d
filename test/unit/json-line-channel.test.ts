/**
 * JsonLineChannel over a pair of in-memory streams: replies by id, events by
 * their field, nextEvent, lines without a reply, and failure.
 */
import { PassThrough } from 'node:stream';

import { describe, expect, it } from 'vitest';

import { JsonLineChannel, type JsonLineReply } from '../../testing/json-line-child.js';

/** A channel and the other side's ends: what it wrote, and a way to answer. */
function channel(eventField?: string) {
  const toUs = new PassThrough();
  const fromUs = new PassThrough();
  const written: unknown[] = [];
  fromUs.on('data', (d: Buffer) => {
    for (const l of d.toString().split('\n').filter(Boolean)) written.push(JSON.parse(l));
  });
  const ch = new JsonLineChannel<JsonLineReply & { v?: number }, Record<string, unknown>>(
    toUs,
    fromUs,
    'peer',
    { eventField },
  );
  const answer = (o: object) => toUs.write(JSON.stringify(o) + '\n');
  return { ch, written, answer };
}

describe('JsonLineChannel', () => {
  it('matches replies to commands by id and words errors with the label', async () => {
    const { ch, written, answer } = channel();
    const a = ch.send({ cmd: 'a' });
    const b = ch.send({ cmd: 'b', x: 1 });
    await new Promise((r) => setImmediate(r));
    expect(written).toEqual([
      { cmd: 'a', id: 1 },
      { cmd: 'b', x: 1, id: 2 },
    ]);
    answer({ id: 2, error: 'no' });
    answer({ id: 1, v: 7 });
    expect(await a).toEqual({ id: 1, v: 7 });
    await expect(b).rejects.toThrow('peer: no');
  });

  it('nextEvent resolves with the next event by name or predicate, under eventField', async () => {
    const { ch, answer } = channel('ev');
    const ready = ch.nextEvent('ready', 5_000);
    const big = ch.nextEvent((e) => Number(e.n) > 1, 5_000);
    answer({ event: 'ready' }); // not an event under eventField 'ev': no pending id either
    answer({ ev: 'tick', n: 1 });
    answer({ ev: 'ready', n: 2 });
    expect(await ready).toEqual({ ev: 'ready', n: 2 });
    expect(await big).toEqual({ ev: 'ready', n: 2 });
  });

  it('nextEvent times out, and fails with the channel', async () => {
    const { ch } = channel();
    await expect(ch.nextEvent('never', 10)).rejects.toThrow("peer: no 'never' event in 10 ms");
    const waiting = ch.nextEvent('x', 5_000);
    const pending = ch.send({ cmd: 'c' });
    ch.fail(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    await expect(pending).rejects.toThrow('gone');
    await expect(ch.nextEvent('x', 5_000)).rejects.toThrow('gone');
  });

  it('post writes a line without an id', async () => {
    const { ch, written } = channel();
    ch.post({ cmd: 'register', size: 4 });
    await new Promise((r) => setImmediate(r));
    expect(written).toEqual([{ cmd: 'register', size: 4 }]);
  });
});
