/**
 * Compiles a benchmark's C baseline (a file beside the script) with `cc -O2`,
 * once per run and source: the path of the binary, or undefined when there is
 * no C compiler (or headers and libraries) here, with the reason on stderr.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const compiled = new Map<string, Promise<string | undefined>>();

export function compileC(source: URL, libs: string[] = []): Promise<string | undefined> {
  const src = source.pathname;
  let binary = compiled.get(src);
  if (!binary) {
    binary = (async () => {
      const out = join(mkdtempSync(join(tmpdir(), 'nixl-bench-')), basename(src, '.c'));
      try {
        await run('cc', ['-O2', '-o', out, src, ...libs]);
        return out;
      } catch (err) {
        process.stderr.write(`${basename(src)} did not compile: ${(err as Error).message}\n`);
        return undefined;
      }
    })();
    compiled.set(src, binary);
  }
  return binary;
}
