/**
 * An Ed25519 identity key that signs with one Node KeyObject.
 *
 * `@libp2p/crypto`'s Ed25519 key rebuilds a KeyObject from JWK on every
 * signature (about half of a signature's cost here). The control node signs
 * with its identity in every noise handshake and the discovery signs each of
 * its records with it, so the key object is made once. Signatures are
 * byte-for-byte the same (Ed25519 is deterministic).
 */
import { createPrivateKey, sign } from 'node:crypto';

import type { PrivateKey } from '@libp2p/interface';
import type { Uint8ArrayList } from 'uint8arraylist';

/** Keys made here: wrapping one again returns it. */
const cachedKeys = new WeakSet<PrivateKey>();

/** The same key, signing natively with a cached key object; other key types are returned as they are. */
export function withCachedSigning(key: PrivateKey): PrivateKey {
  if (cachedKeys.has(key) || key.type !== 'Ed25519' || key.raw.byteLength !== 64) return key;
  const keyObject = createPrivateKey({
    key: {
      kty: 'OKP',
      crv: 'Ed25519',
      d: Buffer.from(key.raw.subarray(0, 32)).toString('base64url'),
      x: Buffer.from(key.raw.subarray(32)).toString('base64url'),
    },
    format: 'jwk',
  });
  const cached = {
    type: key.type,
    raw: key.raw,
    publicKey: key.publicKey,
    equals: (other?: unknown) => key.equals(other),
    sign(data: Uint8Array | Uint8ArrayList, options?: { signal?: AbortSignal }): Uint8Array {
      options?.signal?.throwIfAborted();
      return sign(null, data instanceof Uint8Array ? data : data.subarray(), keyObject);
    },
  } as PrivateKey;
  cachedKeys.add(cached);
  return cached;
}
