/**
 * serveJsonLines against the parent's JsonLineChannel over in-memory streams:
 * replies by id, error replies, events, commands without an id, and the end
 * of the input.
 */
import { PassThrough } from 'node:stream';

import { describe, expect, it } from 'vitest';

import { JsonLineChannel, type JsonLineReply } from '../../testing/json-line-child.js';
import {
  serveJsonLines,
  type JsonLineHandlers,
  type JsonLineServerOptions,
} from '../../testing/json-line-server.js';

type Command =
  | { id?: number; cmd: 'add'; a: number; b: number }
  | { id?: number; cmd: 'later'; ms: number }
  | { id?: number; cmd: 'fail'; async: boolean }
  | { id?: number; cmd: 'nothing' };

/** A server on one end and the parent's channel on the other. */
function pair(
  handlers: JsonLineHandlers<Command>,
  opts: JsonLineServerOptions & { channelEventField?: string } = {},
) {
  const down = new PassThrough();
  const up = new PassThrough();
  const server = serveJsonLines<Command>(handlers, { ...opts, input: down, output: up });
  const ch = new JsonLineChannel<JsonLineReply & Record<string, unknown>>(up, down, 'child', {
    eventField: opts.channelEventField,
  });
  return { server, ch, down };
}

const handlers: JsonLineHandlers<Command> = {
  add: (c) => ({ sum: c.a + c.b }),
  later: async (c) => {
    await new Promise((r) => setTimeout(r, c.ms));
    return { waited: c.ms };
  },
  fail: (c) => {
    const err = new RangeError('no such thing');
    if (c.async) return Promise.reject(err);
    throw err;
  },
  nothing: () => {},
};

describe('serveJsonLines', () => {
  it('answers each command with its id, as they finish', async () => {
    const { ch } = pair(handlers);
    const slow = ch.send({ cmd: 'later', ms: 30 });
    const fast = ch.send({ cmd: 'add', a: 2, b: 3 });
    expect(await fast).toEqual({ id: 2, sum: 5 });
    expect(await slow).toEqual({ id: 1, waited: 30 });
    expect(await ch.send({ cmd: 'nothing' })).toEqual({ id: 3 });
  });

  it('turns a throw, a rejection or an unknown command into an error reply', async () => {
    const { ch } = pair(handlers);
    await expect(ch.send({ cmd: 'fail', async: false })).rejects.toThrow(
      'child: RangeError: no such thing',
    );
    await expect(ch.send({ cmd: 'fail', async: true })).rejects.toThrow(
      'child: RangeError: no such thing',
    );
    await expect(ch.send({ cmd: 'toString' })).rejects.toThrow('unknown command toString');
  });

  it('words errors with errorText', async () => {
    const { ch } = pair(handlers, { errorText: (e) => `bad: ${(e as Error).message}` });
    await expect(ch.send({ cmd: 'fail', async: false })).rejects.toThrow('child: bad: no such');
  });

  it('emits events under eventField', async () => {
    const { server, ch } = pair(handlers, { eventField: 'ev', channelEventField: 'ev' });
    const ready = ch.nextEvent('ready', 5_000);
    server.emit('ready', { port: 7 });
    expect(await ready).toEqual({ ev: 'ready', port: 7 });
  });

  it('runs a command without an id, and hands its failure to onPostError', async () => {
    const seen: unknown[] = [];
    const failed = new Promise<[unknown, unknown]>((resolve) => {
      const { ch } = pair(
        { ...handlers, add: (c) => void seen.push(c) },
        { onPostError: (err, c) => resolve([err, c]) },
      );
      ch.post({ cmd: 'add', a: 1, b: 1 });
      ch.post({ cmd: 'fail', async: true });
    });
    const [err, c] = await failed;
    expect(seen).toEqual([{ cmd: 'add', a: 1, b: 1 }]);
    expect((err as Error).message).toBe('no such thing');
    expect(c).toEqual({ cmd: 'fail', async: true });
  });

  it('names commands by commandField', async () => {
    const down = new PassThrough();
    const up = new PassThrough();
    const got = new Promise((resolve) =>
      serveJsonLines<{ type: 'hello'; who: string }, 'type'>(
        { hello: (m) => resolve(m.who) },
        { commandField: 'type', input: down, output: up },
      ),
    );
    down.write(JSON.stringify({ type: 'hello', who: 'prefill' }) + '\n');
    expect(await got).toBe('prefill');
  });

  it('calls onEnd when the input ends', async () => {
    const ended = new Promise<void>((resolve) => pair(handlers, { onEnd: resolve }).down.end());
    await ended;
  });
});
