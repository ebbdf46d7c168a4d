/**
 * plugins/gossip/mesh-pb.ts is protons' output for proto/mesh.proto: the check
 * regenerates it in a fresh process and compares (the generator is a
 * devDependency; without it installed there is nothing to compare with).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const generatorInstalled =
  !!process.env.PROTONS || existsSync(`${root}/node_modules/protons/package.json`);

describe('the generated mesh codec', () => {
  it.skipIf(!generatorInstalled)('matches proto/mesh.proto', () => {
    const out = execFileSync(process.execPath, ['scripts/proto-gen.mjs', '--check'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(out).toMatch(/matches proto\/mesh\.proto/);
  });
});
