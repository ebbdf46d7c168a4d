import { fileURLToPath } from 'node:url';

import { JsonLineChild } from '../../testing/json-line-child.js';
import { waitStopped } from '../proc-stat.js';
import type { KvPeerCommand, KvPeerReply } from './kv-peer-process.js';

type Command = KvPeerCommand extends infer C
  ? C extends { id: number }
    ? Omit<C, 'id'>
    : never
  : never;

/** A KV peer (prefill or decode side) in a child process. */
export class KvPeer extends JsonLineChild<KvPeerReply> {
  constructor() {
    super(fileURLToPath(new URL('./kv-peer-process.ts', import.meta.url)), 'kv peer');
  }

  override send<T = KvPeerReply>(c: Command): Promise<T & KvPeerReply> {
    return super.send(c) as Promise<T & KvPeerReply>;
  }

  /** Stops the process (SIGSTOP) and waits until the kernel reports it stopped. */
  async freeze(): Promise<void> {
    this.child.kill('SIGSTOP');
    await waitStopped(this.child.pid!);
  }
}
