/**
 * The staging order on its own: chunking, the ring's backpressure, overlap
 * of the two stages, the last chunk held until the others are done, and
 * failures (the first one wins, nothing new starts, nothing runs after).
 */
import { describe, expect, it } from 'vitest';

import { chunksOf, runPipeline, type Chunk } from '../../backends/tcp/staging-pipeline.js';

const tick = (ms = 0) => new Promise<void>((r) => setTimeout(r, ms));

describe('chunksOf', () => {
  it('covers the region exactly, slots in a ring', () => {
    const c = chunksOf(10_000, 4096, 2);
    expect(c.map((x) => [x.offset, x.len, x.slot, x.last])).toEqual([
      [0, 4096, 0, false],
      [4096, 4096, 1, false],
      [8192, 1808, 0, true],
    ]);
  });
});

describe('runPipeline', () => {
  it('keeps at most `slots` chunks in flight and never reuses a busy slot', async () => {
    const busy = new Set<number>();
    let maxBusy = 0;
    const done: number[] = [];
    const stage = async (c: Chunk) => {
      await tick(1 + (c.index % 3));
    };
    const stats = await runPipeline(
      { bytes: 40 * 4096 + 5, chunkBytes: 4096, slots: 3 },
      {
        first: async (c) => {
          expect(busy.has(c.slot)).toBe(false);
          busy.add(c.slot);
          maxBusy = Math.max(maxBusy, busy.size);
          await stage(c);
        },
        second: async (c) => {
          await stage(c);
          busy.delete(c.slot);
          done.push(c.index);
        },
      },
    );
    expect(stats.chunks).toBe(41);
    expect(stats.maxInFlight).toBeLessThanOrEqual(3);
    expect(maxBusy).toBe(3);
    expect([...done].sort((a, b) => a - b)).toEqual([...Array(41).keys()]);
  });

  it('overlaps the first stage of chunk k+1 with the second of chunk k', async () => {
    const events: string[] = [];
    await runPipeline(
      { bytes: 3 * 4096, chunkBytes: 4096, slots: 2 },
      {
        first: async (c) => {
          events.push(`first${c.index}+`);
          await tick(2);
          events.push(`first${c.index}-`);
        },
        second: async (c) => {
          events.push(`second${c.index}+`);
          await tick(20);
          events.push(`second${c.index}-`);
        },
      },
    );
    // chunk 1's first stage ran while chunk 0's second was under way.
    expect(events.indexOf('first1+')).toBeLessThan(events.indexOf('second0-'));
  });

  it('holdLast: the last second stage starts after every other chunk finished', async () => {
    const finished = new Set<number>();
    let sawAll = false;
    await runPipeline(
      { bytes: 8 * 4096, chunkBytes: 4096, slots: 4, holdLast: true },
      {
        // The last chunk's first stage is the fastest: without the hold it would overtake.
        first: (c) => tick(c.last ? 0 : 5),
        second: async (c) => {
          if (c.last) sawAll = finished.size === 7;
          else await tick(10 - c.index);
          finished.add(c.index);
        },
      },
    );
    expect(sawAll).toBe(true);
  });

  it('fails with the first error, starts nothing after it, and waits for what was in flight', async () => {
    const started: number[] = [];
    let running = 0;
    const boom = new Error('chunk 2 failed');
    const p = runPipeline(
      { bytes: 20 * 4096, chunkBytes: 4096, slots: 2 },
      {
        first: async (c) => {
          started.push(c.index);
          running++;
          await tick(2);
          running--;
          if (c.index === 2) throw boom;
        },
        second: async (c) => {
          running++;
          await tick(5);
          running--;
          if (c.index === 3) throw new Error('a later failure');
        },
      },
    );
    await expect(p).rejects.toBe(boom);
    expect(running).toBe(0);
    expect(Math.max(...started)).toBeLessThanOrEqual(2 + 2);
  });

  it('stops at an abort', async () => {
    const ac = new AbortController();
    const p = runPipeline(
      { bytes: 100 * 4096, chunkBytes: 4096, slots: 2, signal: ac.signal },
      {
        first: async (c) => {
          if (c.index === 5) ac.abort(new Error('stop'));
          await tick();
        },
        second: () => tick(),
      },
    );
    await expect(p).rejects.toThrow('stop');
  });

  it('refuses bad sizes', async () => {
    const s = { first: () => tick(), second: () => tick() };
    await expect(runPipeline({ bytes: 0, chunkBytes: 4096, slots: 1 }, s)).rejects.toThrow(
      RangeError,
    );
    await expect(runPipeline({ bytes: 10, chunkBytes: 0, slots: 1 }, s)).rejects.toThrow(
      RangeError,
    );
    await expect(runPipeline({ bytes: 10, chunkBytes: 10, slots: 0 }, s)).rejects.toThrow(
      RangeError,
    );
  });
});
