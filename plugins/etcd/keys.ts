/**
 * The key layout, NIXL's: `<namespace><agent>/<label>`, one slash between the
 * parts (NIXL's own code writes `<namespace>/<agent>/...`, which with the
 * default namespace reads `/nixl/agents//<agent>/...`; nixl-ts does not
 * double the slash). The full metadata lives under the label `metadata`;
 * `update` holds the last registration changes as a chain of partial
 * metadata (update.ts); other
 * labels hold what sendLocalPartialMD published under them.
 */
import { InvalidParamError } from '../../src/errors.js';

export const DEFAULT_NAMESPACE = '/nixl/agents/';
/** The full, current metadata of an agent. */
export const METADATA_LABEL = 'metadata';
/** The last registration changes, as partial metadata (update.ts), put in one transaction with `metadata`. */
export const UPDATE_LABEL = 'update';

/** The namespace with exactly one trailing slash. */
export function normalizeNamespace(ns: string): string {
  if (typeof ns !== 'string' || ns.replace(/\/+$/, '').length === 0) {
    throw new InvalidParamError(
      `etcd: namespace must be a non-empty key prefix, got ${JSON.stringify(ns)}`,
      {
        op: 'etcd',
      },
    );
  }
  return ns.replace(/\/+$/, '') + '/';
}

/**
 * An agent name must not contain '/': a delete of `<ns>a/` (an agent
 * withdrawing its keys) would otherwise take `a/b`'s keys too.
 */
export function checkAgentName(name: string, op: string): void {
  if (name.includes('/')) {
    throw new InvalidParamError(`etcd: agent name ${JSON.stringify(name)} contains '/'`, { op });
  }
}

/** A label: non-empty, no '/'. */
export function checkLabel(label: string, op: string): void {
  if (typeof label !== 'string' || label.length === 0 || label.includes('/')) {
    throw new InvalidParamError(
      `etcd: a label must be non-empty without '/', got ${JSON.stringify(label)}`,
      {
        op,
      },
    );
  }
}

export function agentPrefix(ns: string, agent: string): string {
  return `${ns}${agent}/`;
}

export function keyOf(ns: string, agent: string, label: string): string {
  return `${ns}${agent}/${label}`;
}

/** The agent and label of a key under the namespace, or undefined for a key of another shape. */
export function parseKey(ns: string, key: string): { agent: string; label: string } | undefined {
  if (!key.startsWith(ns)) return undefined;
  const rest = key.slice(ns.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1 || rest.indexOf('/', slash + 1) >= 0)
    return undefined;
  return { agent: rest.slice(0, slash), label: rest.slice(slash + 1) };
}
