/**
 * Whether the UCX this process loaded can move CUDA memory. UCX loads its
 * transports as modules from `<libdir>/ucx/` (or UCX_MODULE_DIR); the CUDA
 * ones (cuda_copy, cuda_ipc, gdr_copy) come in libuct_cuda.so, which
 * Debian's UCX does not ship. Without it, ucp_mem_map would take a device
 * pointer for host memory, so the backend refuses VRAM, saying why.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface UcxCudaSupport {
  readonly ok: boolean;
  /** Why not ('' when ok). */
  readonly reason: string;
  /** Where the UCX modules were looked for. */
  readonly moduleDir: string;
}

/** The directory of the libucp this process mapped, read from /proc/self/maps. */
function loadedUcpDir(): string | undefined {
  let maps = '';
  try {
    maps = readFileSync('/proc/self/maps', 'utf8');
  } catch {
    return undefined;
  }
  const m = /\s(\/\S*\/libucp\.so[^\s]*)$/m.exec(maps);
  return m ? dirname(m[1]!) : undefined;
}

let cached: UcxCudaSupport | undefined;

/** Call after the UCX addon is loaded (the backend's constructor). */
export function ucxCudaSupport(): UcxCudaSupport {
  if (cached) return cached;
  const fromEnv = process.env['UCX_MODULE_DIR'];
  const ucpDir = loadedUcpDir();
  const moduleDir = fromEnv || (ucpDir ? join(ucpDir, 'ucx') : '');
  if (!moduleDir) {
    cached = { ok: false, reason: 'libucp is not loaded in this process', moduleDir };
    return cached;
  }
  const files = existsSync(moduleDir) ? readdirSync(moduleDir) : [];
  const cudaModule = files.find((f) => /^libuct_cuda\.so(\.|$)/.test(f));
  cached = cudaModule
    ? { ok: true, reason: '', moduleDir }
    : {
        ok: false,
        reason: `the UCX modules in ${moduleDir} have no CUDA transport (libuct_cuda.so: cuda_copy, cuda_ipc); UCX built without CUDA, as Debian's`,
        moduleDir,
      };
  return cached;
}
