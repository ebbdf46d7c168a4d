/**
 * The cluster credential: a 32-byte pre-shared key that every member of a
 * cluster holds. It is the key of a libp2p private network (the pnet protocol,
 * see ../libp2p-node/private-network.ts): every libp2p connection of the
 * control plane is encrypted with it (XSalsa20) beneath noise, so a node
 * without the key cannot complete a handshake, let alone fetch metadata or
 * publish on the cluster's topic.
 *
 * Accepted forms: 64 hex characters, or the libp2p/IPFS `swarm.key` text
 * (`/key/swarm/psk/1.0.0/`, `/base16/`, 64 hex characters, one per line), as a
 * string or its bytes. Errors never echo the key.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { InvalidParamError } from '../../src/errors.js';

/** The cluster key, in any accepted form. */
export const CLUSTER_KEY_ENV = 'NIXL_TS_CLUSTER_KEY';
/** A file holding the cluster key (e.g. a mounted secret), read when the key itself is not set. */
export const CLUSTER_KEY_FILE_ENV = 'NIXL_TS_CLUSTER_KEY_FILE';

const KEY_BYTES = 32;
const HEX_RE = /^[0-9a-fA-F]{64}$/;
const SWARM_HEADER = '/key/swarm/psk/1.0.0/';

/** A new random cluster key: 64 hex characters (32 bytes from the OS's CSPRNG). */
export function generateClusterKey(): string {
  return randomBytes(KEY_BYTES).toString('hex');
}

/** The 32 key bytes of a cluster key in any accepted form; InvalidParamError (not naming the key) otherwise. */
export function parseClusterKey(key: string | Uint8Array, what = 'clusterKey'): Uint8Array {
  let text: string;
  if (typeof key === 'string') text = key;
  else if (key instanceof Uint8Array) {
    // Raw 32 bytes are accepted too (a key held in memory).
    if (key.byteLength === KEY_BYTES) return new Uint8Array(key);
    text = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('utf8');
  } else {
    throw new InvalidParamError(`gossip: ${what} must be a string or a Uint8Array`, {
      op: 'gossip',
    });
  }
  const lines = text
    .split(/\r?\n|\r/)
    .map((l) => l.trim())
    .filter(Boolean);
  let hex: string | undefined;
  if (lines.length === 1) hex = lines[0];
  else if (lines.length === 3 && lines[0] === SWARM_HEADER && lines[1] === '/base16/')
    hex = lines[2];
  if (hex === undefined || !HEX_RE.test(hex)) {
    throw new InvalidParamError(
      `gossip: ${what} is not a cluster key: expected 64 hex characters or a swarm.key ` +
        `(${SWARM_HEADER} /base16/ <64 hex>); generate one with generateClusterKey()`,
      { op: 'gossip' },
    );
  }
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/**
 * The key from the environment: NIXL_TS_CLUSTER_KEY, else the file named by
 * NIXL_TS_CLUSTER_KEY_FILE; undefined when neither is set.
 */
export function clusterKeyFromEnv(env: NodeJS.ProcessEnv = process.env): Uint8Array | undefined {
  const value = env[CLUSTER_KEY_ENV];
  if (value) return parseClusterKey(value, CLUSTER_KEY_ENV);
  const file = env[CLUSTER_KEY_FILE_ENV];
  if (!file) return undefined;
  let content: Buffer;
  try {
    content = readFileSync(file);
  } catch (err) {
    throw new InvalidParamError(
      `gossip: cannot read the cluster key file named by ${CLUSTER_KEY_FILE_ENV}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      { op: 'gossip', cause: err },
    );
  }
  return parseClusterKey(content, `the file named by ${CLUSTER_KEY_FILE_ENV}`);
}
