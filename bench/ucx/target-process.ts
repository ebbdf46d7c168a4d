/**
 * Starts bench/ucx/target.ts in a child process with metadata loaded both
 * ways between it and the initiator agent `a`: the target side of every UCX
 * benchmark here.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import type { Agent } from '../../src/agent.js';

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

export async function startTarget(
  a: Agent,
  params: Record<string, string>,
  bytes: number,
  ucxAlloc = false,
  namePrefix = 'bench-tgt',
): Promise<Target> {
  const script = fileURLToPath(new URL('./target.ts', import.meta.url));
  const name = `${namePrefix}-${randomBytes(3).toString('hex')}`;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', script, name, JSON.stringify(params), String(bytes), String(ucxAlloc)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const hello = JSON.parse((await lines.next()).value) as { md: string; addr: string };
  a.loadRemoteMD(Buffer.from(hello.md, 'base64'));
  child.stdin!.write(Buffer.from(a.getLocalMD()).toString('base64') + '\n');
  await lines.next();
  return {
    name,
    pid: child.pid!,
    addr: BigInt(hello.addr),
    kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    async stop() {
      a.invalidateRemoteMD(name);
      child.stdin!.end();
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await new Promise((r) => child.on('exit', r));
      clearTimeout(timer);
    },
  };
}
