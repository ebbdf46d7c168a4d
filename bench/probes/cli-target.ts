/**
 * The benchmark target the probes use: nixl-ts-bench's own target process
 * (bench/cli/main.ts --target-listen 127.0.0.1:0 --once, as the CLI starts
 * it), driven over its control socket. One target process for every
 * benchmark here.
 */
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';

import { ControlClient } from '../cli/control.js';
import { LocalTarget } from '../cli/local-target.js';

const CLI = fileURLToPath(
  new URL('../cli/main.' + (import.meta.url.endsWith('.ts') ? 'ts' : 'js'), import.meta.url),
);

export interface CliTarget {
  /** The target agent's name, its metadata and the start of its registered region. */
  name: string;
  md: Uint8Array;
  addr: bigint;
  /** The target's process id. */
  pid: number;
  control: ControlClient;
  /** Signals the target process (by its PID). */
  signal(signal: NodeJS.Signals): void;
  /** Ends the session: the target closes its agent and exits (killed if it has not after 10 s). */
  stop(): Promise<void>;
}

/**
 * Starts a target whose agent has `backend` with `params` and `bytes`
 * registered (allocated by the backend with `backendAlloc`, e.g. UCX's shared
 * memory).
 */
export async function startCliTarget(
  backend: string,
  params: Record<string, string>,
  bytes: number,
  opts: { backendAlloc?: boolean } = {},
): Promise<CliTarget> {
  const target = new LocalTarget(CLI);
  try {
    const port = await target.port;
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    const control = new ControlClient(socket);
    const hello = await control.request<{ pid: number }>('hello', {
      sweep: { cells: [{ blockSize: bytes, batch: 1 }], depth: 1 },
    });
    const open = await control.request<{ name: string; md: string; base: string }>('open', {
      backend,
      params,
      backendAlloc: opts.backendAlloc ?? false,
    });
    return {
      name: open.name,
      md: Buffer.from(open.md, 'base64'),
      addr: BigInt(open.base),
      pid: hello.pid,
      control,
      signal: (s) => target.signal(s),
      async stop() {
        await control.request('bye').catch(() => {});
        control.close();
        await target.stop();
      },
    };
  } catch (err) {
    target.signal('SIGKILL');
    throw err;
  }
}
