/** `nixl-ts/plugins/etcd`: checks the optional etcd client packages, then loads the plugin (index.ts). */
import { ETCD_DEPS, requirePeerDeps } from '../optional-deps.js';

requirePeerDeps('nixl-ts/plugins/etcd', ETCD_DEPS);
const plugin = await import('./index.js');

export const {
  etcd,
  EtcdDiscovery,
  CA_FILE_ENV,
  CERT_FILE_ENV,
  DEFAULT_MAX_PEERS,
  DEFAULT_MAX_VALUE_BYTES,
  ENDPOINTS_ENV,
  KEY_FILE_ENV,
  NAMESPACE_ENV,
  PASSWORD_ENV,
  USERNAME_ENV,
  DEFAULT_NAMESPACE,
  METADATA_LABEL,
  UPDATE_LABEL,
} = plugin;
