// The addons binding.gyp builds and the package ships as prebuilds, shared by
// scripts/install.mjs and scripts/prebuild.mjs. nixl_ucx and nixl_ucm_preload
// exist only where UCX was found at build time; nixl_file links liburing where it was
// found (else it has only its thread pool); nixl_cuda opens the CUDA driver at run
// time; nixl_bench serves the shipped CLI.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const TUPLE = `${process.platform}-${process.arch}`;
export const ADDONS = [
  'nixl_native',
  'nixl_ucx',
  'nixl_ucm_preload',
  'nixl_file',
  'nixl_cuda',
  'nixl_bench',
];
/** Without this one nothing works: the install fails if it can be neither loaded nor compiled. */
export const REQUIRED = 'nixl_native';

export const releaseDir = join(ROOT, 'build', 'Release');
export const prebuildDir = join(ROOT, 'prebuilds', TUPLE);

export function prebuildPath(name) {
  const p = join(prebuildDir, `${name}.node`);
  return existsSync(p) ? p : undefined;
}
