import { fileURLToPath } from 'node:url';

import { JsonLineChild, type JsonLineReply } from '../../testing/json-line-child.js';

const SCRIPT = fileURLToPath(new URL('./tcp-peer.ts', import.meta.url));

/** A TCP agent in a child process (test/integration/tcp-peer.ts). */
export class TcpPeer extends JsonLineChild<JsonLineReply & Record<string, any>> {
  readonly name: string;
  md = '';
  addr = 0n;

  private constructor(name: string) {
    super(SCRIPT, `peer ${name}`);
    this.name = name;
  }

  /**
   * `listen: false`: notifications wait for getNotifs (the `takeNotifs` command).
   * `backend`: the agent's one backend, TCP unless named.
   */
  static async start(
    name: string,
    size: number,
    params: Record<string, string>,
    opts: { listen?: boolean; backend?: string } = {},
  ): Promise<TcpPeer> {
    const p = new TcpPeer(name);
    const r = await p.send({ cmd: 'init', name, size, params, ...opts });
    p.md = r.md;
    p.addr = BigInt(r.addr);
    return p;
  }

  get mdBytes(): Buffer {
    return Buffer.from(this.md, 'base64');
  }

  override send(c: Record<string, unknown> & { cmd: string }, timeoutMs = 60_000): Promise<any> {
    return super.send(c, timeoutMs);
  }
}
