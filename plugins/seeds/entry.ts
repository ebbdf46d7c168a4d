/** `nixl-ts/plugins/seeds`: checks the optional libp2p packages, then loads the plugin (index.ts). */
import { LIBP2P_DEPS, requirePeerDeps } from '../optional-deps.js';

requirePeerDeps('nixl-ts/plugins/seeds', LIBP2P_DEPS);
const plugin = await import('./index.js');

export const { seeds } = plugin;
