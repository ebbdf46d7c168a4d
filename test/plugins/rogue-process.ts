/**
 * Starts rogue-member.ts in a child process (plain node with tsx) and
 * collects its JSON-line events.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import type { RogueConfig } from './rogue-member.js';

const SCRIPT = fileURLToPath(new URL('./rogue-member.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface RogueEvent {
  ev: string;
  t: number;
  [k: string]: unknown;
}

export class RogueProcess {
  readonly events: RogueEvent[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number>;
  private readonly waiters = new Set<() => void>();

  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line));
      } catch {
        this.stderr.push(line);
      }
      for (const w of this.waiters) w();
    });
    createInterface({ input: child.stderr! }).on('line', (l) => {
      if (this.stderr.length < 200) this.stderr.push(l);
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, sig) => {
        resolve(code ?? (sig ? 128 : 1));
        for (const w of this.waiters) w();
      }),
    );
  }

  /** The first event named `ev` (or a `fatal` one), within timeoutMs. */
  async waitEv(ev: string, timeoutMs = 60_000): Promise<RogueEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const e = this.events.find((x) => x.ev === ev || x.ev === 'fatal');
      if (e?.ev === 'fatal') throw new Error(`rogue: ${e.message}`);
      if (e) return e;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`rogue exited before '${ev}': ${this.stderr.slice(-10).join('\n')}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `rogue: no '${ev}' after ${timeoutMs} ms: ${this.stderr.slice(-10).join('\n')}`,
        );
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(left, 500));
        this.waiters.add(done);
      });
    }
  }

  /** Closes stdin (the rogue stops its node and exits); SIGKILL after 10 s. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

export function spawnRogue(cfg: RogueConfig): RogueProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, JSON.stringify(cfg)], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'test' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return new RogueProcess(child);
}
