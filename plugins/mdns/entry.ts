/** `nixl-ts/plugins/mdns`: checks the optional libp2p packages, then loads the plugin (index.ts). */
import { MDNS_DEPS, requirePeerDeps } from '../optional-deps.js';

requirePeerDeps('nixl-ts/plugins/mdns', MDNS_DEPS);
const plugin = await import('./index.js');

export const { mdns, mdnsServiceTag, assertMdnsAllowed } = plugin;
