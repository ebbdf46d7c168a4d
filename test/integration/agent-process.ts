/**
 * The test side of fixtures/discovery-agent.ts: spawns an agent process (in
 * this namespace or inside an emulated host), sends commands, and waits for
 * its events. Every wait has a timeout; `kill` is by PID, only our children.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import type { AgentProcessConfig } from './fixtures/discovery-agent.js';
import type { Hosts } from '../netns/netns.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/discovery-agent.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface AgentEvent {
  ev: string;
  t: number;
  [k: string]: any;
}

export class AgentProcess {
  readonly events: AgentEvent[] = [];
  private waiters: { pred: (e: AgentEvent) => boolean; resolve: (e: AgentEvent) => void }[] = [];
  readonly exited: Promise<number | null>;
  stderr = '';

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let e: AgentEvent;
      try {
        e = JSON.parse(line);
      } catch {
        return; // not ours (a library printing)
      }
      this.events.push(e);
      this.waiters = this.waiters.filter((w) => (w.pred(e) ? (w.resolve(e), false) : true));
    });
    child.stderr!.on('data', (d) => {
      if (this.stderr.length < 20_000) this.stderr += d;
    });
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Resolves with the first event (past or future) matching `pred`. */
  waitFor(pred: (e: AgentEvent) => boolean, what: string, timeoutMs = 30_000): Promise<AgentEvent> {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `${this.name}: timed out after ${timeoutMs} ms waiting for ${what}; events: ` +
              JSON.stringify(this.events.slice(-20)) +
              `; stderr: ${this.stderr.slice(-2000)}`,
          ),
        );
      }, timeoutMs);
      const fatal = this.events.find((e) => e.ev === 'fatal');
      if (fatal) {
        clearTimeout(timer);
        return reject(new Error(`${this.name} failed to start: ${fatal.message}`));
      }
      this.waiters.push({
        pred: (e) => pred(e) || e.ev === 'fatal',
        resolve: (e) => {
          clearTimeout(timer);
          if (e.ev === 'fatal' && !pred(e))
            reject(new Error(`${this.name} failed to start: ${e.message}`));
          else resolve(e);
        },
      });
    });
  }

  waitEv(ev: string, peer?: string, timeoutMs?: number): Promise<AgentEvent> {
    return this.waitFor(
      (e) => e.ev === ev && (peer === undefined || e.peer === peer),
      `${ev} ${peer ?? ''}`,
      timeoutMs,
    );
  }

  send(cmd: Record<string, unknown>): void {
    this.child.stdin!.write(JSON.stringify(cmd) + '\n');
  }

  /** Sends a command and waits for its answer event (or a cmd-error). */
  async request(
    cmd: Record<string, unknown>,
    answer: string,
    timeoutMs = 30_000,
  ): Promise<AgentEvent> {
    const from = this.events.length;
    this.send(cmd);
    const e = await this.waitFor(
      (x) => this.events.indexOf(x) >= from && (x.ev === answer || x.ev === 'cmd-error'),
      answer,
      timeoutMs,
    );
    if (e.ev === 'cmd-error')
      throw new Error(`${this.name}: ${cmd.cmd} failed: ${e.code} ${e.message}`);
    return e;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.send({ cmd: 'close' });
    const timer = setTimeout(() => this.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

function args(cfg: AgentProcessConfig): string[] {
  return ['--import', 'tsx', FIXTURE, JSON.stringify(cfg)];
}

const env = (extra: Record<string, string> = {}) => ({
  ...process.env,
  NODE_ENV: 'test',
  ...extra,
});

/** An agent process in this network namespace (seeds on 127.0.0.1 only). */
export function spawnAgent(cfg: AgentProcessConfig): AgentProcess {
  const child = spawn(process.execPath, args(cfg), {
    cwd: ROOT,
    env: env(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return new AgentProcess(cfg.name, child);
}

/** An agent process inside emulated host `i`. */
export function spawnAgentIn(hosts: Hosts, i: number, cfg: AgentProcessConfig): AgentProcess {
  const child = hosts.spawn(i, process.execPath, args(cfg), {
    cwd: ROOT,
    env: env({ NIXL_TEST_NETNS: '1' }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return new AgentProcess(cfg.name, child);
}
