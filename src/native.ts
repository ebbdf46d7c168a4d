/**
 * The only module that loads native addons: nixl_native.node (memory,
 * TCP engine) and, on demand, nixl_ucx.node (built only where UCX is
 * installed). Modules add their own fields to the objects these return.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface NativeMemory {
  alloc(bytes: number): Buffer;
  addressOf(view: ArrayBuffer | ArrayBufferView): bigint;
  viewOf(addr: bigint | number, len: number): ArrayBuffer;
  copy(dst: bigint | number, src: bigint | number, len: number): void;
  readonly pageSize: number;
}

/** build/Release/<name>.node, from src/ (tsx, vitest) or dist/src/ (built); undefined if absent. */
function findAddon(name: string): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['..', '../..']) {
    const candidate = join(here, up, 'build', 'Release', `${name}.node`);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

const loaded = new Map<string, Record<string, unknown>>();

/** Loads an addon by target name; throws a plain Error saying how to build it if absent. */
export function loadAddon(name: string): Record<string, unknown> {
  let addon = loaded.get(name);
  if (!addon) {
    const path = findAddon(name);
    if (!path) {
      throw new Error(
        `nixl-ts: native addon ${name}.node not built; run 'npm run build:native' (needs g++ and python3)`,
      );
    }
    addon = createRequire(import.meta.url)(path) as Record<string, unknown>;
    loaded.set(name, addon);
  }
  return addon;
}

/** True if the addon was built (without loading it). */
export function hasAddon(name: string): boolean {
  return loaded.has(name) || findAddon(name) !== undefined;
}

export function native(): NativeMemory & Record<string, unknown> {
  return loadAddon('nixl_native') as NativeMemory & Record<string, unknown>;
}
