/**
 * The discovery plugins' packages are optional peer dependencies of nixl-ts
 * (a core install has no libp2p or etcd client). Each plugin's package entry
 * (`nixl-ts/plugins/<name>`, the entry.ts beside its index.ts) calls
 * requirePeerDeps before it loads the plugin, so a missing package is named
 * with the command that installs it instead of a bare ERR_MODULE_NOT_FOUND
 * from deep inside the plugin. Keep the ranges equal to package.json's
 * peerDependencies (test/package/optional-deps.test.ts checks).
 */
import { NotSupportedError } from '../src/errors.js';

/** What gossip discovery (and its peer sources) load: libp2p and its transports. */
export const LIBP2P_DEPS: Readonly<Record<string, string>> = {
  libp2p: '^3.3.11',
  '@libp2p/gossipsub': '^17.1.1',
  '@libp2p/identify': '^4.1.14',
  '@libp2p/interface': '^3.3.0',
  '@libp2p/noise': '^17.0.3',
  '@libp2p/peer-id': '^6.0.15',
  '@libp2p/tcp': '^11.0.28',
  '@libp2p/utils': '^7.4.1',
  '@libp2p/yamux': '^8.0.3',
  '@multiformats/multiaddr': '^13.0.3',
  xsalsa20: '^1.2.0',
};

export const MDNS_DEPS: Readonly<Record<string, string>> = {
  ...LIBP2P_DEPS,
  'multicast-dns': '^7.2.5',
};

export const ETCD_DEPS: Readonly<Record<string, string>> = {
  etcd3: '^1.1.2',
  cockatiel: '^3.2.1',
};

/** True if `pkg` resolves from the nixl-ts package, as the plugin's own imports will. */
function resolvable(pkg: string): boolean {
  try {
    import.meta.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

/**
 * Throws NotSupportedError naming the missing packages of `deps` and the
 * npm command that installs them; returns quietly if all resolve.
 */
export function requirePeerDeps(entry: string, deps: Readonly<Record<string, string>>): void {
  const missing = Object.keys(deps).filter((pkg) => !resolvable(pkg));
  if (missing.length === 0) return;
  const specs = missing.map((pkg) => `${pkg}@'${deps[pkg]}'`).join(' ');
  throw new NotSupportedError(
    `${entry} needs its optional peer dependencies, and ${missing.join(', ')} ` +
      `${missing.length === 1 ? 'is' : 'are'} not installed; add them to your project: npm install ${specs}`,
    { op: 'import' },
  );
}
