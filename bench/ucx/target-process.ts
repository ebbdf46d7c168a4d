/**
 * Starts bench/ucx/target.ts in a child process with metadata loaded both
 * ways between it and the initiator agent `a`: the target side of every UCX
 * benchmark here.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

import type { Agent } from '../../src/agent.js';
import { JsonLineChild, type JsonLineReply } from '../../testing/json-line-child.js';

export interface Target {
  name: string;
  /** The target's process id. */
  pid: number;
  /** Start of the target's registered region. */
  addr: bigint;
  /** Signals the target process (by its PID) while it runs. */
  kill(signal: NodeJS.Signals): void;
  /** Drops its metadata and lets it close; kills it if it has not exited after 10 s. */
  stop(): Promise<void>;
}

/** How long the target may take to start, and to answer `load`. */
const START_MS = 120_000;

export async function startTarget(
  a: Agent,
  params: Record<string, string>,
  bytes: number,
  ucxAlloc = false,
  namePrefix = 'bench-tgt',
): Promise<Target> {
  const script = fileURLToPath(new URL('./target.ts', import.meta.url));
  const name = `${namePrefix}-${randomBytes(3).toString('hex')}`;
  const child = new JsonLineChild(
    script,
    `benchmark target ${name}`,
    {},
    {
      args: [name, JSON.stringify(params), String(bytes), String(ucxAlloc)],
      stderr: 'inherit',
    },
  );
  try {
    const hello = await child.nextEvent('ready', START_MS);
    a.loadRemoteMD(Buffer.from(String(hello.md), 'base64'));
    await child.send({ cmd: 'load', md: Buffer.from(a.getLocalMD()).toString('base64') }, START_MS);
    return {
      name,
      pid: child.pid,
      addr: BigInt(String(hello.addr)),
      kill: (signal) => child.signal(signal),
      async stop() {
        a.invalidateRemoteMD(name);
        // The target closes its agent and exits when its input ends.
        child.endInput();
        await child.waitForExit(10_000);
      },
    };
  } catch (err) {
    await child.kill();
    throw err;
  }
}
