/**
 * The only module that loads native addons: nixl_native.node (memory,
 * TCP engine) and, on demand, nixl_ucx.node (built only where UCX is
 * installed). Modules add their own fields to the objects these return.
 *
 * Where an addon comes from, first match wins (as node-gyp-build orders it):
 *   1. build/Release/<name>.node — compiled in place (a clone, or the install
 *      script's fallback when no prebuild fits);
 *   2. prebuilds/<platform>-<arch>/<name>.node — shipped in the package
 *      (Node-API, so one binary serves every Node version).
 * node-gyp-build itself is not used: it resolves one addon per package
 * directory (the first *.node it finds), and nixl-ts has several.
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

/** The platform folder of prebuilds/, as prebuildify names it. */
export const PREBUILD_TUPLE = `${process.platform}-${process.arch}`;

/** The package root: this file is src/native.ts (tsx, vitest) or dist/src/native.js. */
function packageRoots(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  return [join(here, '..'), join(here, '..', '..')];
}

/** Candidate paths of an addon, in the order they are tried. */
export function addonCandidates(name: string): string[] {
  const roots = packageRoots();
  return [
    ...roots.map((root) => join(root, 'build', 'Release', `${name}.node`)),
    ...roots.map((root) => join(root, 'prebuilds', PREBUILD_TUPLE, `${name}.node`)),
  ];
}

/** The first existing candidate, or undefined. */
function findAddon(name: string): string | undefined {
  return addonCandidates(name).find((candidate) => existsSync(candidate));
}

export const COMPILE_HINT =
  'to compile it in your project, install g++ (C++20), make and python3, then run ' +
  "'npm rebuild nixl-ts' (with pnpm: allow its build with 'pnpm approve-builds', then 'pnpm rebuild nixl-ts')";

/** What a user can do when an addon is missing. */
function missingMessage(name: string): string {
  return (
    `nixl-ts: no native addon ${name}.node for ${PREBUILD_TUPLE}: ` +
    `the package ships prebuilt binaries for linux-x64 (glibc) only, and none was compiled here; ${COMPILE_HINT}`
  );
}

/** What a user can do when an addon exists but the dynamic loader refused it. */
function loadFailureMessage(name: string, path: string, err: Error): string {
  const msg = err.message;
  if (/liburing\.so/.test(msg)) {
    return (
      `nixl-ts: ${name}.node cannot load liburing (${msg.trim()}); ` +
      'install it (Debian/Ubuntu: apt-get install liburing2; Fedora/RHEL: dnf install liburing)'
    );
  }
  if (/lib(ucp|uct|ucs|ucm)\.so/.test(msg)) {
    return (
      `nixl-ts: ${name}.node cannot load the UCX runtime libraries it needs (${msg.trim()}); ` +
      'install UCX 1.13 or later (Debian/Ubuntu: apt-get install libucx0; Fedora/RHEL: dnf install ucx) ' +
      'or point LD_LIBRARY_PATH at an existing UCX installation'
    );
  }
  if (/GLIBC|GLIBCXX|CXXABI/.test(msg)) {
    return (
      `nixl-ts: the prebuilt ${name}.node needs a newer C/C++ runtime than this system has (${msg.trim()}); ` +
      COMPILE_HINT
    );
  }
  return `nixl-ts: cannot load ${path}: ${msg.trim()}`;
}

const loaded = new Map<string, Record<string, unknown>>();

/** Loads an addon by target name; throws a plain Error saying what to do if absent or unloadable. */
export function loadAddon(name: string): Record<string, unknown> {
  let addon = loaded.get(name);
  if (!addon) {
    const path = findAddon(name);
    if (!path) throw new Error(missingMessage(name));
    try {
      addon = createRequire(import.meta.url)(path) as Record<string, unknown>;
    } catch (err) {
      throw new Error(loadFailureMessage(name, path, err as Error), { cause: err });
    }
    loaded.set(name, addon);
  }
  return addon;
}

/** True if the addon was built or shipped (without loading it). */
export function hasAddon(name: string): boolean {
  return loaded.has(name) || findAddon(name) !== undefined;
}

export function native(): NativeMemory & Record<string, unknown> {
  return loadAddon('nixl_native') as NativeMemory & Record<string, unknown>;
}
