import { readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { BACKEND_API_VERSION, type BackendPlugin } from './backend.js';
import { isMemType } from './descriptors.js';
import { InvalidParamError, NotFoundError } from './errors.js';
import { createLogger, type Logger } from './logger.js';

/**
 * The built-in backends, by plugin name → module path relative to this file.
 * Imported lazily by specifier (src/ never imports a backend statically), so a
 * backend whose native parts are missing disables only itself.
 */
const BUILTIN_PLUGINS: ReadonlyArray<readonly [string, string]> = [
  ['LOCAL', '../backends/local/index'],
  ['TCP', '../backends/tcp/index'],
  ['UCX', '../backends/ucx/index'],
  ['POSIX', '../backends/file/index'],
];

// Run from TypeScript sources (tsx, vitest) the built-ins are .ts files too.
const SOURCE_EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** Checks that a module's export is a usable plugin, naming what is missing. */
export function validatePlugin(candidate: unknown, from: string): BackendPlugin {
  const missing: string[] = [];
  const p = candidate as Partial<BackendPlugin> | undefined;
  if (!p || typeof p !== 'object') {
    throw new InvalidParamError(
      `${from} is not a nixl-ts backend plugin: it exports no 'plugin' or default object`,
    );
  }
  if (typeof p.name !== 'string' || !p.name) missing.push("'name' (string)");
  if (typeof p.version !== 'string') missing.push("'version' (string)");
  if (typeof p.apiVersion !== 'number') missing.push("'apiVersion' (number)");
  if (!Array.isArray(p.mems) || !p.mems.every(isMemType))
    missing.push("'mems' (array of memory types)");
  if (!p.defaultParams || typeof p.defaultParams !== 'object')
    missing.push("'defaultParams' (object)");
  if (typeof p.create !== 'function') missing.push("'create' (function)");
  if (missing.length) {
    throw new InvalidParamError(
      `${from} is not a nixl-ts backend plugin: missing ${missing.join(', ')}`,
    );
  }
  if (p.apiVersion !== BACKEND_API_VERSION) {
    throw new InvalidParamError(
      `${from}: plugin '${p.name}' implements backend API version ${p.apiVersion}; this agent supports ${BACKEND_API_VERSION}`,
    );
  }
  return p as BackendPlugin;
}

async function importPlugin(specifier: string): Promise<BackendPlugin> {
  let mod: Record<string, unknown>;
  try {
    mod = await import(specifier);
  } catch (err) {
    throw new NotFoundError(`cannot import backend plugin module '${specifier}'`, { cause: err });
  }
  return validatePlugin(mod.plugin ?? mod.default, `module '${specifier}'`);
}

/** Turns a path or bare specifier into something import() accepts. */
function toSpecifier(pathOrSpecifier: string): string {
  if (isAbsolute(pathOrSpecifier) || pathOrSpecifier.startsWith('.')) {
    return pathToFileURL(resolve(pathOrSpecifier)).href;
  }
  return pathOrSpecifier;
}

/** Plugin files in one plugin directory: *.js / *.mjs files and package folders. */
function pluginFilesIn(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir).sort();
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    const full = join(dir, e);
    const st = statSync(full, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isFile() && /\.(m?js)$/.test(e)) out.push(full);
    else if (st.isDirectory()) {
      for (const idx of ['index.js', 'index.mjs']) {
        if (statSync(join(full, idx), { throwIfNoEntry: false })?.isFile()) {
          out.push(join(full, idx));
          break;
        }
      }
    }
  }
  return out;
}

/** The plugin directories the environment names: NIXL_PLUGIN_DIR (NIXL's, one directory), then NIXL_TS_PLUGIN_PATH (':'-separated). */
export function envPluginDirs(): string[] {
  const nixl = process.env.NIXL_PLUGIN_DIR;
  const ours = (process.env.NIXL_TS_PLUGIN_PATH ?? '').split(':');
  return [...(nixl ? [nixl] : []), ...ours].filter(Boolean);
}

/**
 * Knows every plugin an agent may create: the built-ins, those found in the
 * plugin directories (envPluginDirs, then the agent's pluginPaths), and any
 * loaded by specifier. A file in a directory that is not a plugin (a helper
 * module, a syntax error, no plugin export) is skipped with a warning: it
 * fails only an agent that asks for a backend it would have provided.
 */
export class PluginManager {
  readonly #plugins = new Map<string, BackendPlugin>();
  /** Why a plugin that exists can't be used here, for clear errors. */
  readonly #unavailable = new Map<string, string>();

  static async create(
    extraPaths: readonly string[] = [],
    log: Logger = createLogger('nixl:plugins'),
  ): Promise<PluginManager> {
    const pm = new PluginManager();
    for (const [, rel] of BUILTIN_PLUGINS) {
      pm.add(await importPlugin(new URL(rel + SOURCE_EXT, import.meta.url).href));
    }
    for (const dir of [...envPluginDirs(), ...extraPaths]) {
      for (const file of pluginFilesIn(dir)) {
        try {
          pm.add(await importPlugin(pathToFileURL(file).href));
          log.debug('loaded plugin %s', file);
        } catch (err) {
          const why = err instanceof NotFoundError ? (err.cause as Error)?.message : undefined;
          log.warn('skipped %s: %s', file, why ?? (err as Error).message);
        }
      }
    }
    return pm;
  }

  /** Adds a plugin object; a later plugin of the same name replaces the earlier one. */
  add(plugin: BackendPlugin): void {
    const p = validatePlugin(plugin, `plugin object '${(plugin as any)?.name}'`);
    const reason = p.unavailableReason?.();
    if (reason) {
      this.#unavailable.set(p.name, reason);
      this.#plugins.delete(p.name);
    } else {
      this.#unavailable.delete(p.name);
      this.#plugins.set(p.name, p);
    }
  }

  /** Loads a plugin module by specifier or file path; returns its name. */
  async load(pathOrSpecifier: string): Promise<string> {
    const p = await importPlugin(toSpecifier(pathOrSpecifier));
    this.add(p);
    return p.name;
  }

  names(): string[] {
    return [...this.#plugins.keys()];
  }

  get(name: string): BackendPlugin {
    const p = this.#plugins.get(name);
    if (p) return p;
    const reason = this.#unavailable.get(name);
    if (reason)
      throw new NotFoundError(`backend plugin '${name}' is not available here: ${reason}`);
    throw new NotFoundError(
      `no backend plugin named '${name}'; available: ${this.names().join(', ') || 'none'}`,
    );
  }
}
