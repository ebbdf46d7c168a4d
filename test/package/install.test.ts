/**
 * The package as a user gets it: `npm pack`, then the tarball installed into a
 * fresh project with install scripts off and no compiler on PATH (npm, and
 * pnpm, which skips dependency builds by default). Two agents in two
 * processes move data over TCP and verify it (examples/two-processes), the
 * core install holds no libp2p, and the optional parts fail with what to install.
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  ROOT,
  consumerEnv,
  freshProject,
  nodeOnlyPath,
  npmCli,
  pack,
  run,
  type Packed,
} from './pack.js';

const EXAMPLE = join(ROOT, 'examples', 'two-processes', 'main.mjs');
const CHECK = join(ROOT, 'test', 'package', 'consumer-check.mjs');
const made: string[] = [];
let packed: Packed;
let bin: string;

beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'nixl-pkg-'));
  made.push(dir);
  packed = pack(dir);
  bin = nodeOnlyPath();
  made.push(bin);
}, 600_000);

afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** Runs the two-process example and the consumer check inside an installed project. */
function exercise(project: string): void {
  const env = consumerEnv(bin);
  for (const tool of ['g++', 'cc', 'make', 'python3']) {
    const found = spawnSync(tool, ['--version'], { env });
    expect(found.error, `${tool} must not be on the consumer's PATH`).toBeDefined();
  }
  copyFileSync(EXAMPLE, join(project, 'main.mjs'));
  const ex = run(process.execPath, ['main.mjs'], { cwd: project, env, timeoutMs: 60_000 });
  expect(ex.stderr).not.toMatch(/Error/);
  expect(ex.stdout).toMatch(/: verified$/m);
  expect(ex.status).toBe(0);

  copyFileSync(CHECK, join(project, 'check.mjs'));
  const ck = run(process.execPath, ['check.mjs'], { cwd: project, env, timeoutMs: 60_000 });
  expect(ck.status, ck.stderr).toBe(0);
  const out = JSON.parse(ck.stdout.trim().split('\n').pop()!);
  expect(out.globalsUnchanged).toBe(true);
  for (const entry of ['gossip', 'mdns', 'seeds']) {
    expect(out[`nixl-ts/plugins/${entry}`]).toMatchObject({ name: 'NotSupportedError' });
    expect(out[`nixl-ts/plugins/${entry}`].message).toMatch(
      /needs its optional peer dependencies.*npm install libp2p@'\^3\.\d+\.\d+' .*@libp2p\/tcp@/,
    );
  }
  expect(out['nixl-ts/plugins/mdns'].message).toMatch(/multicast-dns@/);
  expect(out['nixl-ts/plugins/etcd'].message).toMatch(
    /npm install etcd3@'\^1\.\d+\.\d+' cockatiel@/,
  );
  expect(out['nixl-ts/testing'].message).toMatch(/nixl-ts\/testing .*npm install vitest@/);
  for (const k of ['metrics', 'registerMetrics']) {
    expect(out[k]).toMatchObject({ name: 'NotSupportedError' });
    expect(out[k].message).toMatch(/prom-client.*npm install prom-client/);
  }
}

describe('the packed tarball', () => {
  it('holds what a user needs and nothing of the tests or bench internals', () => {
    const files = new Set(packed.files);
    for (const f of [
      'LICENSE',
      'README.md',
      'package.json',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/plugins/gossip/entry.js',
      'dist/testing/entry.js',
      'dist/bench/cli/main.js',
      'prebuilds/linux-x64/nixl_native.node',
      'proto/metadata.proto',
      'proto/mesh.proto',
      'binding.gyp',
      'scripts/install.mjs',
    ])
      expect(files.has(f), f).toBe(true);
    const stray = packed.files.filter((f) =>
      /^(test|scratch)\/|^examples\/(?!two-processes\/)|^dist\/(test|examples)\/|^dist\/bench\/(?!cli\/)|^bench\/(?!README\.md$|cli\/baselines\/|cli\/results\/)/.test(
        f,
      ),
    );
    expect(stray).toEqual([]);
  });

  it('every source map carries its sources, every doc link lands in the package', () => {
    const unpacked = mkdtempSync(join(tmpdir(), 'nixl-pkg-x-'));
    made.push(unpacked);
    expect(run('tar', ['-xzf', packed.tarball, '-C', unpacked], { cwd: unpacked }).status).toBe(0);
    const pkg = join(unpacked, 'package');
    expect(readFileSync(join(pkg, 'LICENSE'), 'utf8')).toMatch(/Apache License\s+Version 2\.0/);
    const maps = packed.files.filter((f) => f.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(50);
    for (const m of maps) {
      const map = JSON.parse(readFileSync(join(pkg, m), 'utf8'));
      expect(map.sourcesContent?.length, m).toBe(map.sources.length);
    }
    const broken: string[] = [];
    for (const doc of packed.files.filter((f) => f.endsWith('.md'))) {
      const text = readFileSync(join(pkg, doc), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue; // http(s), mailto
        const resolved = join(pkg, doc, '..', target!);
        if (!existsSync(resolved)) broken.push(`${doc} -> ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});

describe('installed into a fresh project, no compiler on PATH', () => {
  it('npm --ignore-scripts: the core only, two processes move and verify data', () => {
    const project = freshProject('nixl-npm-');
    made.push(project);
    const env = consumerEnv(bin);
    const r = run(
      process.execPath,
      [
        npmCli(),
        'install',
        packed.tarball,
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
      ],
      { cwd: project, env },
    );
    expect(r.status, r.stderr).toBe(0);
    const nm = join(project, 'node_modules');
    expect(existsSync(join(nm, 'nixl-ts', 'prebuilds'))).toBe(true);
    expect(existsSync(join(nm, 'nixl-ts', 'build'))).toBe(false); // nothing was compiled
    for (const optional of ['libp2p', '@libp2p', 'etcd3', 'prom-client', 'vitest'])
      expect(existsSync(join(nm, optional)), optional).toBe(false);
    exercise(project);

    // The install script itself (npm rebuild runs it): the prebuild loads, so it compiles nothing.
    const rb = run(process.execPath, [npmCli(), 'rebuild', 'nixl-ts'], { cwd: project, env });
    expect(rb.status, rb.stderr).toBe(0);
    expect(existsSync(join(nm, 'nixl-ts', 'build'))).toBe(false);
    expect(readdirSync(join(nm, 'nixl-ts', 'prebuilds'))).toEqual(['linux-x64']);

    // No prebuild for this platform and nothing compiled: the error says what works in this project.
    renameSync(join(nm, 'nixl-ts', 'prebuilds'), join(project, 'prebuilds-away'));
    const create =
      "const { Agent } = await import('nixl-ts'); await Agent.create({ name: 'a', backends: ['TCP'] });";
    const missing = run(process.execPath, ['--input-type=module', '-e', create], {
      cwd: project,
      env,
    });
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/no native addon nixl_native\.node for linux-x64/);
    expect(missing.stderr).toMatch(
      /install g\+\+ \(C\+\+20\), make and python3, then run 'npm rebuild nixl-ts'/,
    );
  }, 300_000);

  it('pnpm (dependency builds skipped by default): the same', () => {
    const pnpm = join(ROOT, 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');
    expect(existsSync(pnpm), 'pnpm is a devDependency').toBe(true);
    const project = freshProject('nixl-pnpm-');
    const store = mkdtempSync(join(tmpdir(), 'nixl-pnpm-store-'));
    made.push(project, store);
    const env = consumerEnv(bin, { CI: 'true' });
    const r = run(
      process.execPath,
      [pnpm, 'add', packed.tarball, '--store-dir', store, '--config.confirmModulesPurge=false'],
      { cwd: project, env },
    );
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(existsSync(join(project, 'node_modules', 'libp2p'))).toBe(false);
    exercise(project);
  }, 300_000);
});
