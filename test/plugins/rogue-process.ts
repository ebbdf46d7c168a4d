/**
 * Starts rogue-member.ts in a child process (a JsonLineChild whose lines are
 * all events, named by `ev`) and keeps its events.
 */
import { fileURLToPath } from 'node:url';

import { JsonLineChild, type JsonLineReply } from '../../testing/json-line-child.js';
import type { RogueConfig } from './rogue-member.js';

const SCRIPT = fileURLToPath(new URL('./rogue-member.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface RogueEvent {
  ev: string;
  t: number;
  [k: string]: unknown;
}

export class RogueProcess extends JsonLineChild<JsonLineReply, RogueEvent> {
  readonly events: RogueEvent[] = [];

  constructor(cfg: RogueConfig) {
    super(
      SCRIPT,
      'rogue',
      { NODE_ENV: 'test' },
      { args: [JSON.stringify(cfg)], cwd: ROOT, eventField: 'ev' },
    );
    this.onEvent((e) => this.events.push(e));
  }

  /** The first event (past or future) named `ev` (or a `fatal` one), within timeoutMs. */
  async waitEv(ev: string, timeoutMs = 60_000): Promise<RogueEvent> {
    const wanted = (x: RogueEvent) => x.ev === ev || x.ev === 'fatal';
    const e =
      this.events.find(wanted) ??
      (await this.nextEvent(wanted, timeoutMs).catch((err: Error) => {
        throw new Error(`rogue: waiting for '${ev}': ${err.message}`);
      }));
    if (e.ev === 'fatal') throw new Error(`rogue: ${String(e.message)}`);
    return e;
  }

  /** Closes stdin (the rogue stops its node and exits); SIGKILL after 10 s. */
  override async close(): Promise<void> {
    this.endInput();
    await this.waitForExit(10_000);
  }
}

export function spawnRogue(cfg: RogueConfig): RogueProcess {
  return new RogueProcess(cfg);
}
