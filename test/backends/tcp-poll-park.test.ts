// A caller that polls a large socket transfer parks (poll_park_us) instead of
// spinning: its getXferStatus sleeps until the engine settles a transfer. Against
// an agent in another process: every polled READ and WRITE lands whole (checked
// by hash) whether the caller parks or not; a target that freezes or dies under
// a parked caller still fails the transfer in bounded time; and the parked
// caller leaves its CPU to others meanwhile.
import { afterEach, describe, expect, it } from 'vitest';

import { InvalidParamError, RemoteDisconnectError } from '../../src/errors.js';
import { Agent } from '../../src/agent.js';
import {
  expectFailsOnceKilled,
  failAfter,
  pollRoundTripsByHash,
  pollUntilDone,
  requestAt,
  type TcpPair,
  TcpPairs,
} from './tcp-pair.js';
import { waitStopped } from '../proc-stat.js';

const REGION = 24 << 20;
const SIZES = [64 << 10, 1 << 20, 8 << 20, 16 << 20];
const TIMEOUT_MS = 2000;

// The initiator's parameters of each variant; the target runs the defaults.
const VARIANTS: Record<string, Record<string, string>> = {
  'defaults (parks from 8 MiB)': {},
  'never parks': { poll_park_us: '0' },
  'parks from 64 KiB, 50 µs at most': { poll_park_min_bytes: String(64 << 10), poll_park_us: '50' },
};

const pairs = new TcpPairs();
afterEach(() => pairs.closeAll());

function pair(initiatorParams: Record<string, string>): Promise<TcpPair> {
  return pairs.start({
    name: 'parker',
    regionBytes: REGION,
    params: { port: '0', same_host: 'off', timeout_ms: String(TIMEOUT_MS) },
    initiatorParams,
  });
}

describe('TCP poll_park_us: a caller polling a large transfer parks', () => {
  for (const [name, initiatorParams] of Object.entries(VARIANTS)) {
    it(`polled READs and WRITEs land whole, checked by hash (${name})`, async () => {
      const p = await pair(initiatorParams);
      await pollRoundTripsByHash(p, SIZES);
    }, 120_000);
  }

  it('a frozen target fails a parked 16 MiB READ within the timeout, the caller mostly asleep; a killed one fails it at once', async () => {
    const p = await pair({});
    const read = requestAt(p, 'READ', 16 << 20, 0);
    for (let round = 0; round < 3; round++) pollUntilDone(p, read, performance.now() + 30_000);
    // Frozen: nothing answers; timeout_ms (2 s) fails the READ, with a
    // generous margin for a loaded machine.
    p.peer.signal('SIGSTOP');
    await waitStopped(p.peer.pid);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const error = failAfter(p, read, t0 + 30_000);
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    expect(error).toBeInstanceOf(RemoteDisconnectError);
    expect(wallMs).toBeLessThan(TIMEOUT_MS + 8000);
    // A spinning caller would use a whole CPU for those 2 s; a parked one
    // wakes once per poll_park_us (200 µs) for 64 status reads.
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(wallMs / 2);
    read.release();

    // Killed in the middle of 16 MiB READs on a fresh connection.
    const q = await pair({});
    const big = requestAt(q, 'READ', 16 << 20, 0);
    for (let round = 0; round < 3; round++) pollUntilDone(q, big, performance.now() + 30_000);
    expectFailsOnceKilled(q, big, TIMEOUT_MS);
  }, 60_000);

  it('refuses bad values with a typed error', async () => {
    const bad: Record<string, string>[] = [
      { poll_park_us: '-1' },
      { poll_park_us: '100001' },
      { poll_park_min_bytes: '0' },
    ];
    for (const params of bad) {
      await expect(
        Agent.create({ name: 'bad', backends: [{ type: 'TCP', params }] }),
      ).rejects.toBeInstanceOf(InvalidParamError);
    }
  });
});
