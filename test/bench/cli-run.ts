import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The package's bin launcher, as a user runs it. */
export const LAUNCHER = fileURLToPath(new URL('../../bin/nixl-ts-bench.js', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs nixl-ts-bench to completion (killed by its PID after timeoutMs); `env` adds variables. */
export function runCli(
  args: string[],
  timeoutMs = 150_000,
  env?: NodeJS.ProcessEnv,
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LAUNCHER, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: env && { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`nixl-ts-bench ${args.join(' ')} did not finish in ${timeoutMs} ms: ${stderr}`),
      );
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A sweep small enough for a loaded 2-core machine. */
export const TINY = [
  '--start-block',
  '4K',
  '--max-block',
  '16K',
  '--iters',
  '20',
  '--warmup',
  '2',
  '--no-progress',
];
