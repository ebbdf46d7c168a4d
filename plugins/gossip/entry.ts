/** `nixl-ts/plugins/gossip`: checks the optional libp2p packages, then loads the plugin (index.ts). */
import { LIBP2P_DEPS, requirePeerDeps } from '../optional-deps.js';

requirePeerDeps('nixl-ts/plugins/gossip', LIBP2P_DEPS);
const plugin = await import('./index.js');

export const {
  gossip,
  GossipDiscovery,
  CLUSTER_KEY_ENV,
  CLUSTER_KEY_FILE_ENV,
  generateClusterKey,
  parseClusterKey,
  DEFAULT_LIMITS,
} = plugin;
