/**
 * CPU time of each thread of this process, from /proc (Linux): what
 * process.cpuUsage() sums, split so that a worker can tell its main thread's
 * share from its helpers' (V8's GC and compiler threads, libuv's pool) and
 * from the threads its agents started (the TCP backend's engine threads).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Thread id → ms on a CPU since the thread started (schedstat's first field, in ns). */
export function threadCpuMs(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      out.set(Number(tid), ns / 1e6);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

export interface ThreadCpuSplit {
  /** The main thread: JavaScript, and the native calls it makes. */
  main: number;
  /** Threads that ran before the agents were created (V8's helpers, libuv's pool). */
  helpers: number;
  /** Threads started since (one engine thread per TCP backend, and any others). */
  started: number;
}

/**
 * CPU ms spent between two snapshots, by kind of thread. A thread that ended
 * in between is missing from `to` and its time is lost (not the case here:
 * agents are closed only after the report).
 */
export function splitSince(
  from: Map<number, number>,
  to: Map<number, number>,
  before: Set<number>,
): ThreadCpuSplit {
  const split: ThreadCpuSplit = { main: 0, helpers: 0, started: 0 };
  for (const [tid, ms] of to) {
    const spent = ms - (from.get(tid) ?? 0);
    if (tid === process.pid) split.main += spent;
    else if (before.has(tid)) split.helpers += spent;
    else split.started += spent;
  }
  return split;
}
