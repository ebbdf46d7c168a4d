/**
 * How far behind this process's event loop has run lately: a short interval
 * timer notes how late each of its ticks fires, and the membership asks for
 * the longest stall since a time (did our own loop stall while a probe was
 * out? then its answer may be sitting unread in our buffers, and a missing
 * answer says nothing about the peer). One sampler serves every discovery of
 * the process (they share the event loop); it never keeps the process alive.
 * It ticks on the aligned timers' grid (aligned-timers.ts), so the
 * discoveries' own timers fire in its wake-ups instead of waking the loop again.
 */
import {
  clearAlignedTimeout,
  GRID_MS,
  setAlignedTimeout,
  type AlignedTimer,
} from './aligned-timers.js';

/** Sampling period: stalls much shorter than this are not seen (they do not matter to probes). */
const PERIOD_MS = GRID_MS;
/** Ticks remembered (about 25 s at 50 ms; longer under load, when ticks come late). */
const SLOTS = 512;

class LoopLagSampler {
  private readonly at = new Float64Array(SLOTS);
  private readonly late = new Float64Array(SLOTS);
  private next = 0;
  private filled = 0;
  private expected = 0;
  private timer?: AlignedTimer;
  private users = 0;

  acquire(): void {
    if (this.users++ > 0) return;
    this.expected = 0;
    this.arm();
  }

  /** The next tick at the next grid point after the last one expected. */
  private arm(): void {
    // A Node timer may fire a little before Date.now() reaches its grid point
    // (it counts from the loop's cached time): never tick twice for one point.
    const from = Math.max(Date.now(), this.expected);
    this.expected = Math.ceil((from + 1) / PERIOD_MS) * PERIOD_MS;
    this.timer = setAlignedTimeout(() => this.tick(), this.expected - Date.now());
  }

  release(): void {
    if (--this.users > 0) return;
    this.users = 0;
    clearAlignedTimeout(this.timer);
    this.timer = undefined;
    this.filled = 0;
  }

  private tick(): void {
    const now = Date.now();
    this.at[this.next] = now;
    this.late[this.next] = Math.max(0, now - this.expected);
    this.next = (this.next + 1) % SLOTS;
    if (this.filled < SLOTS) this.filled++;
    this.arm();
  }

  /** The longest stall (ms) that ended at or after `t`, the one in progress included. */
  since(t: number): number {
    const now = Date.now();
    let worst = this.timer ? Math.max(0, now - this.expected) : 0;
    for (let k = 1; k <= this.filled; k++) {
      const i = (this.next - k + SLOTS) % SLOTS;
      if (this.at[i]! < t) break;
      if (this.late[i]! > worst) worst = this.late[i]!;
    }
    return worst;
  }
}

const sampler = new LoopLagSampler();

/** Starts sampling for one user (a discovery); the returned function stops it. */
export function watchLoopLag(): { since(t: number): number; stop(): void } {
  sampler.acquire();
  let stopped = false;
  return {
    since: (t) => (stopped ? 0 : sampler.since(t)),
    stop: () => {
      if (stopped) return;
      stopped = true;
      sampler.release();
    },
  };
}
