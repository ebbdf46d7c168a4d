/**
 * scripts/gpu-check.mjs is plain Node over dist/: where there is no device it
 * must still load every module it needs and stop with exit 2 and the reason
 * (the GPU machine run is where the rest happens).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { vramSupport } from '../../src/vram.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BUILT = existsSync(`${ROOT}/dist/backends/tcp/vram-stager.js`);

describe('scripts/gpu-check.mjs without a device', () => {
  it.skipIf(!BUILT || vramSupport().ok)(
    'exits 2 naming why VRAM is unsupported (skipped without dist/ or with a device)',
    () => {
      const r = spawnSync(process.execPath, ['scripts/gpu-check.mjs'], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(r.stdout).toMatch(/^NO DEVICE: libcuda\.so\.1 not found/m);
      expect(r.status).toBe(2);
    },
  );
});
