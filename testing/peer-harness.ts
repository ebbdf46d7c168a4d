import { fileURLToPath } from 'node:url';

import { JsonLineChild } from './json-line-child.js';
import type { PeerCommand, PeerReply } from './peer-protocol.js';

type Command = PeerCommand extends infer C
  ? C extends { id: number }
    ? Omit<C, 'id'>
    : never
  : never;

const IS_SOURCE = import.meta.url.endsWith('.ts');

/** A peer agent in a child process, driven over its stdin/stdout (peer-process.ts). */
export class PeerProcess extends JsonLineChild<PeerReply> {
  constructor(env: NodeJS.ProcessEnv = {}) {
    super(
      fileURLToPath(new URL(`./peer-process${IS_SOURCE ? '.ts' : '.js'}`, import.meta.url)),
      'peer',
      env,
    );
  }

  /** Sends a command; with timeoutMs, rejects if no reply comes in time. */
  override send(c: Command, timeoutMs?: number): Promise<PeerReply> {
    return super.send(c, timeoutMs);
  }
}
