/**
 * What the kernel says about a process the tests started, from /proc: its
 * CPU time, and whether a SIGSTOP has taken effect on every thread.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: /proc reports CPU time in these ticks per second on Linux. */
const TICKS_PER_S = 100;

/** The fields of a /proc stat line after the command name (which may hold spaces and parentheses). */
export function statFields(path: string): string[] {
  const stat = readFileSync(path, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU time (user + system, ms) a process has used so far, all its threads. */
export function cpuMs(pid: number): number {
  const f = statFields(`/proc/${pid}/stat`);
  // utime and stime: the 14th and 15th fields of the line.
  return ((Number(f[11]) + Number(f[12])) * 1000) / TICKS_PER_S;
}

/**
 * Waits until every thread of a process we SIGSTOPped is stopped; throws after
 * `timeoutMs`. kill() returns once the signal is queued, and on a loaded
 * machine the threads stop a few milliseconds later (1-11 ms measured beside
 * two busy loops on 2 cores): a test that posts to a peer it froze waits for
 * this first, or a thread still running may serve the transfer.
 */
export async function waitStopped(pid: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const states = readdirSync(`/proc/${pid}/task`).map(
      (t) => statFields(`/proc/${pid}/task/${t}/stat`)[0],
    );
    if (states.every((s) => s === 'T' || s === 't')) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`process ${pid} did not stop within ${timeoutMs} ms`);
}
