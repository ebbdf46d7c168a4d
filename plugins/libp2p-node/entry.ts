/** `nixl-ts/plugins/libp2p-node`: checks the optional libp2p packages, then loads the module (index.ts). */
import { LIBP2P_DEPS, requirePeerDeps } from '../optional-deps.js';

requirePeerDeps('nixl-ts/plugins/libp2p-node', LIBP2P_DEPS);
const plugin = await import('./index.js');

export const { controlNoise, createControlNode, inboundInHandshake } = plugin;
