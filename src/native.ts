/**
 * The only module that loads the native addon. Everything native goes
 * through the object it exports; modules (tcp, ucx) add their own fields.
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
  readonly hasUcx: boolean;
}

/** Finds build/Release/nixl_native.node from src/ (tsx, vitest) or dist/src/ (built). */
function addonPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['..', '../..']) {
    const candidate = join(here, up, 'build', 'Release', 'nixl_native.node');
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(
    `nixl-ts: native addon not found next to ${here}; run 'npm run build:native' (needs g++ and python3)`,
  );
}

let loaded: (NativeMemory & Record<string, unknown>) | undefined;

export function native(): NativeMemory & Record<string, unknown> {
  loaded ??= createRequire(import.meta.url)(addonPath());
  return loaded!;
}
