/**
 * Key generation on the control plane's and the TCP engine's start paths
 * never hangs the process. Node 20 deadlocks when a garbage collection
 * finalizes a key-generation job while that key is being exported (the
 * export holds the key's mutex and allocates; the job's destructor takes the
 * same mutex): a discovery worker's main thread then waited on itself
 * forever. A fresh process makes thousands of keys, which took the old code
 * a few hundred to a few thousand to hang (not every time), and must exit.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const CHILD = fileURLToPath(new URL('./key-churn-process.ts', import.meta.url));
const KEYS = 20_000;
/** Generous: the keys take about 2 s on 2 loaded cores; a deadlocked child never ends. */
const EXIT_WITHIN_MS = 60_000;

describe('key generation', () => {
  it(
    `makes ${KEYS} noise key pairs and engine identity seeds in a fresh process, which exits`,
    async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, String(KEYS)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_WITHIN_MS);
      const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      clearTimeout(timer);
      expect({ code, out: out.trim() }).toEqual({ code: 0, out: String(KEYS) });
    },
    EXIT_WITHIN_MS + 10_000,
  );
});
