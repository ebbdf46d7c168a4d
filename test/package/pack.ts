/**
 * What the package tests share: pack the project once (prepack builds dist/
 * and prebuilds/), and run npm or pnpm in a fresh project with a PATH that
 * holds node and sh and nothing else, so no compiler can be found.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Packed {
  tarball: string;
  files: string[];
}

/**
 * `npm pack` of a copy of the project (the files git would commit, with their
 * timestamps, node_modules linked, build/ copied), so that prepack's build
 * (tsc, then the prebuilds) runs as on a fresh clone and never rewrites the
 * dist/ that other test files may be reading.
 */
export function pack(dir: string): Packed {
  const copy = join(dir, 'src');
  const listed = run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
  });
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`);
  for (const file of listed.stdout.split('\0').filter(Boolean)) {
    if (!existsSync(join(ROOT, file))) continue; // deleted, not yet committed
    mkdirSync(dirname(join(copy, file)), { recursive: true });
    cpSync(join(ROOT, file), join(copy, file), { preserveTimestamps: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
  if (existsSync(join(ROOT, 'build')))
    cpSync(join(ROOT, 'build'), join(copy, 'build'), { recursive: true, preserveTimestamps: true });

  const r = run(process.execPath, [npmCli(), 'pack', '--json', '--pack-destination', dir], {
    cwd: copy,
    timeoutMs: 600_000,
  });
  if (r.status !== 0) throw new Error(`npm pack failed (${r.status}):\n${r.stderr}`);
  // npm prints the prepack scripts' output before the JSON.
  const json = JSON.parse(r.stdout.slice(r.stdout.indexOf('[\n'))) as {
    filename: string;
    files: { path: string }[];
  }[];
  return { tarball: join(dir, json[0]!.filename), files: json[0]!.files.map((f) => f.path) };
}

/** npm's own CLI script, run with node so that PATH needs nothing but node. */
export function npmCli(): string {
  const which = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' });
  return realpathSync(which.stdout.trim());
}

/**
 * A bin directory holding only `node` and `sh` (npm runs package scripts
 * through sh): a PATH without g++, cc, make or python.
 */
export function nodeOnlyPath(): string {
  const bin = mkdtempSync(join(tmpdir(), 'nixl-pkg-bin-'));
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync('/bin/sh', join(bin, 'sh'));
  return bin;
}

/** A fresh ESM project with one dependency-free package.json. */
export function freshProject(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }, null, 2),
  );
  return dir;
}

export function run(
  cmd: string,
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 180_000,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** An environment for the consumer: PATH with node only, no npm_* leaking from the outer npm. */
export function consumerEnv(pathDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (
      !k.startsWith('npm_') &&
      !k.startsWith('NODE_') &&
      k !== 'VITEST' &&
      !k.startsWith('VITEST_')
    )
      env[k] = v;
  }
  return { ...env, PATH: pathDir, ...extra };
}
