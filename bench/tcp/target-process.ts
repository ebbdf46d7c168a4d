import { fileURLToPath } from 'node:url';

import { JsonLineChild, type JsonLineReply } from '../../testing/json-line-child.js';

const SCRIPT = fileURLToPath(
  new URL('./target.' + (import.meta.url.endsWith('.ts') ? 'ts' : 'js'), import.meta.url),
);

/** What the target announces once it serves: its metadata (base64) and region. */
export interface TargetReady {
  md: string;
  addr: string;
}

/** A benchmark target agent in a child process (bench/tcp/target.ts); its stderr shows live. */
export class TargetProcess extends JsonLineChild<JsonLineReply & Record<string, any>> {
  /** Resolves once the target serves (rejects if it has not within 60 s, or exits first). */
  readonly ready: Promise<TargetReady>;

  constructor(name: string, size: number, params: Record<string, string>) {
    super(
      SCRIPT,
      'benchmark target',
      {},
      {
        args: [JSON.stringify({ name, size, params })],
        stderr: 'inherit',
      },
    );
    // Subscribed at once: the event may come before the caller awaits it.
    this.ready = this.nextEvent('ready', 60_000).then((e) => ({
      md: String(e.md),
      addr: String(e.addr),
    }));
    this.ready.catch(() => {});
  }

  /** Sends a command; rejects if the target does not answer within 60 s. */
  override send(c: Record<string, unknown> & { cmd: string }, timeoutMs = 60_000): Promise<any> {
    return super.send(c, timeoutMs);
  }
}
