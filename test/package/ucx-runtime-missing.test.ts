/**
 * The UCX addon where the UCX runtime library cannot be loaded: in a private
 * mount namespace (root only), /dev/null is bound over libucp, and loading
 * nixl_ucx must fail with a message naming UCX and the package to install,
 * while the core addon still loads.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { hasAddon } from '../../src/native.js';
import { ROOT } from './pack.js';

const LIBUCP = ['/lib/x86_64-linux-gnu/libucp.so.0', '/usr/lib64/libucp.so.0'].find(existsSync);
const canHide = process.getuid?.() === 0 && LIBUCP !== undefined && hasAddon('nixl_ucx');

const PROBE = `
import { loadAddon } from '${join(ROOT, 'src', 'native.ts')}';
loadAddon('nixl_native');
try {
  loadAddon('nixl_ucm_preload');
  loadAddon('nixl_ucx');
  console.log('loaded');
} catch (err) {
  console.log(err.message);
}`;

describe.skipIf(!canHide)(
  'UCX runtime missing (root: a private mount namespace hides libucp)',
  () => {
    it('nixl_ucx fails to load with what to install; the core addon is unaffected', () => {
      const lib = realpathSync(LIBUCP!);
      const r = spawnSync(
        'unshare',
        [
          '-m',
          '--propagation',
          'private',
          'sh',
          '-c',
          `mount --bind /dev/null "${lib}" && exec "${process.execPath}" --import tsx --input-type=module -e "$PROBE"`,
        ],
        { cwd: ROOT, encoding: 'utf8', env: { ...process.env, PROBE }, timeout: 60_000 },
      );
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(
        /nixl_(ucx|ucm_preload)\.node cannot load the UCX runtime libraries/,
      );
      expect(r.stdout).toMatch(/apt-get install libucx0/);
    });
  },
);
