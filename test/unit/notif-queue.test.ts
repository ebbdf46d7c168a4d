/** The notification queue alone: queued per sender, or pushed while someone listens. */
import { describe, expect, it } from 'vitest';

import { NotifQueue } from '../../src/notif-queue.js';

const msg = (s: string) => new TextEncoder().encode(s);
const text = (m: Map<string, Uint8Array[]>) =>
  Object.fromEntries([...m].map(([k, v]) => [k, v.map((b) => new TextDecoder().decode(b))]));

describe('NotifQueue', () => {
  it('queues by sender in arrival order and drains once', () => {
    const q = new NotifQueue({ active: () => false, emit: () => expect.fail('no listener') });
    q.deliver([
      { agent: 'a', msg: msg('1') },
      { agent: 'b', msg: msg('2') },
    ]);
    q.deliver([{ agent: 'a', msg: msg('3') }]);
    expect(q.pending).toBe(3);
    const into = new Map([['a', [msg('0')]]]);
    expect(text(q.drain(into))).toEqual({ a: ['0', '1', '3'], b: ['2'] });
    expect(q.pending).toBe(0);
    expect(q.drain().size).toBe(0);
  });

  it('pushes to listeners instead of queueing while any exist', () => {
    const got: string[] = [];
    let listening = true;
    const q = new NotifQueue({
      active: () => listening,
      emit: (agent, m) => got.push(`${agent}:${new TextDecoder().decode(m)}`),
    });
    q.deliver([
      { agent: 'a', msg: msg('x') },
      { agent: 'b', msg: msg('y') },
    ]);
    listening = false;
    q.deliver([{ agent: 'a', msg: msg('z') }]);
    expect(got).toEqual(['a:x', 'b:y']);
    expect(text(q.drain())).toEqual({ a: ['z'] });
  });
});
