/**
 * When a run hits its time limit: what each worker that has printed nothing
 * for 10 s is doing. A worker whose event loop stopped turning prints no
 * progress line at all, so the run ends with "N of M loaded all" and no clue;
 * this prints, per such worker, every thread's scheduler state and kernel wait
 * channel, and gdb's native backtrace of every thread (bounded to 30 s; threads
 * with the same call chain once), so a native deadlock (threads parked in
 * futex waits) is told apart from JavaScript that spins (the main thread
 * running, in JIT code).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

import { statFields } from '../../test/proc-stat.js';

const SILENT_MS = 10_000;

function threadStates(pid: number): string[] {
  const lines: string[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const read = (f: string) => {
      try {
        return readFileSync(`/proc/${pid}/task/${tid}/${f}`, 'utf8').trim();
      } catch {
        return '?';
      }
    };
    let state = '?';
    try {
      state = statFields(`/proc/${pid}/task/${tid}/stat`)[0]!;
    } catch {
      // The thread ended between the listing and the read.
    }
    lines.push(`    ${tid} ${read('comm')} ${state} wchan=${read('wchan')}`);
  }
  return lines;
}

export function dumpSilentWorkers<C extends { readonly pid: number }>(
  children: readonly C[],
  lastLine: ReadonlyMap<C, number>,
  t0: number,
): void {
  const now = Date.now();
  for (const [i, child] of children.entries()) {
    const last = lastLine.get(child);
    if (last !== undefined && now - last < SILENT_MS) continue;
    const pid = child.pid;
    console.error(
      `  worker ${i} (pid ${pid}) silent: ${last === undefined ? 'no line at all' : `last line ${last - t0} ms after spawn`}`,
    );
    try {
      console.error(threadStates(pid).join('\n'));
      const bt = execFileSync(
        'gdb',
        ['-p', String(pid), '-batch', '-nx', '-ex', 'thread apply all bt 30'],
        { timeout: 30_000, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
      );
      console.error(groupedBacktraces(bt));
    } catch (e) {
      console.error(`    (no stacks: ${(e as Error).message.split('\n')[0]})`);
    }
  }
}

/**
 * gdb's backtraces with threads of the same call chain (the same functions,
 * whatever their arguments: the TCP engines' I/O threads, the libuv pool)
 * printed once, under the list of their thread ids.
 */
function groupedBacktraces(bt: string): string {
  const groups = new Map<string, { lwps: string[]; frames: string[] }>();
  let current: { lwp: string; frames: string[] } | undefined;
  const flush = () => {
    if (!current) return;
    const key = current.frames.map((f) => /^#\d+\s+(?:0x\S+ in )?(\S+)/.exec(f)?.[1]).join(' ');
    const g = groups.get(key) ?? { lwps: [], frames: current.frames };
    g.lwps.push(current.lwp);
    groups.set(key, g);
  };
  for (const line of bt.split('\n')) {
    if (line.startsWith('Thread')) {
      flush();
      current = { lwp: /LWP (\d+)/.exec(line)?.[1] ?? '?', frames: [] };
    } else if (line.startsWith('#') && current) current.frames.push(line);
  }
  flush();
  return [...groups.values()]
    .map(({ lwps, frames }) =>
      [
        `    ${lwps.length} thread(s), LWP ${lwps.join(' ')}:`,
        ...frames.map((f) => `      ${f}`),
      ].join('\n'),
    )
    .join('\n');
}
