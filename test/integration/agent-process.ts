/**
 * The test side of fixtures/discovery-agent.ts: an agent process (in this
 * namespace or inside an emulated host), driven as a JsonLineChild whose
 * lines are all events, named by `ev`. It keeps every event, so that a test
 * can wait for one that came already. Every wait has a timeout; `kill` is by
 * PID, only our children.
 */
import { fileURLToPath } from 'node:url';

import {
  JsonLineChild,
  type JsonLineReply,
  type SpawnChild,
} from '../../testing/json-line-child.js';
import type { AgentProcessConfig } from './fixtures/discovery-agent.js';
import type { Hosts } from '../netns/netns.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/discovery-agent.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface AgentEvent {
  ev: string;
  t: number;
  [k: string]: any;
}

export class AgentProcess extends JsonLineChild<JsonLineReply, AgentEvent> {
  readonly events: AgentEvent[] = [];
  private waiters: { pred: (e: AgentEvent) => boolean; resolve: (e: AgentEvent) => void }[] = [];

  constructor(
    readonly name: string,
    cfg: AgentProcessConfig | object,
    env: NodeJS.ProcessEnv = {},
    spawn?: SpawnChild,
    /** The fixture script (default: the gossip agent, fixtures/discovery-agent.ts). */
    script = FIXTURE,
  ) {
    super(
      script,
      name,
      { NODE_ENV: 'test', ...env },
      { args: [JSON.stringify(cfg)], cwd: ROOT, eventField: 'ev', spawn },
    );
    this.onEvent((e) => {
      this.events.push(e);
      this.waiters = this.waiters.filter((w) => (w.pred(e) ? (w.resolve(e), false) : true));
    });
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

  /** Sends a command and waits for its answer event (or a cmd-error). */
  async request(
    cmd: Record<string, unknown>,
    answer: string,
    timeoutMs = 30_000,
  ): Promise<AgentEvent> {
    const from = this.events.length;
    this.post(cmd);
    const e = await this.waitFor(
      (x) => this.events.indexOf(x) >= from && (x.ev === answer || x.ev === 'cmd-error'),
      answer,
      timeoutMs,
    );
    if (e.ev === 'cmd-error')
      throw new Error(`${this.name}: ${cmd.cmd} failed: ${e.code} ${e.message}`);
    return e;
  }

  /** Asks the agent to close (it answers with `closed` and exits); kills it after 15 s. */
  override close(): Promise<void> {
    return super.close(15_000);
  }
}

/** An agent process in this network namespace (seeds on 127.0.0.1 only). */
export function spawnAgent(cfg: AgentProcessConfig): AgentProcess {
  return new AgentProcess(cfg.name, cfg);
}

/** An agent process inside emulated host `i`. */
export function spawnAgentIn(hosts: Hosts, i: number, cfg: AgentProcessConfig): AgentProcess {
  return new AgentProcess(cfg.name, cfg, { NIXL_TEST_NETNS: '1' }, (file, args, options) =>
    hosts.spawn(i, file, args, options),
  );
}
