/**
 * Compiles a C baseline that lives beside this file with `cc -O2`, once per
 * process and source: the path of the binary, or undefined when there is no
 * C compiler (or headers and libraries) here, with the reason in `failures`.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const compiled = new Map<string, Promise<string | undefined>>();

/** Why a C baseline did not compile, by file name. */
export const failures = new Map<string, string>();

/** The C source: beside this file, or in the source tree when this runs from dist/. */
function sourceOf(name: string): string {
  const here = fileURLToPath(new URL(`./${name}`, import.meta.url));
  if (existsSync(here)) return here;
  return here.replace(`${sep}dist${sep}bench${sep}`, `${sep}bench${sep}`);
}

export function compileC(name: string, libs: string[] = []): Promise<string | undefined> {
  let binary = compiled.get(name);
  if (!binary) {
    binary = (async () => {
      const src = sourceOf(name);
      const out = join(mkdtempSync(join(tmpdir(), 'nixl-bench-')), basename(src, '.c'));
      try {
        await run('cc', ['-O2', '-o', out, src, ...libs]);
        return out;
      } catch (err) {
        failures.set(name, (err as Error).message.split('\n')[0]!.slice(0, 200));
        return undefined;
      }
    })();
    compiled.set(name, binary);
  }
  return binary;
}

/** Runs a compiled baseline and parses the one JSON line it prints. */
export async function runC<T>(
  name: string,
  args: string[],
  opts: { libs?: string[]; timeoutMs: number },
): Promise<T> {
  const bin = await compileC(name, opts.libs);
  if (!bin) throw new Error(`${name} did not compile: ${failures.get(name) ?? 'no cc'}`);
  const { stdout } = await run(bin, args, { timeout: opts.timeoutMs, killSignal: 'SIGKILL' });
  return JSON.parse(stdout) as T;
}
