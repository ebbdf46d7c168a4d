/**
 * The noise handshake's key operations on Node's native crypto, without the
 * key imports that dominated it.
 *
 * `@libp2p/noise` already takes Node's X25519 and SHA-256 on Node, but it
 * keeps keys as raw bytes and rebuilds a KeyObject from DER for every
 * Diffie-Hellman: each XX handshake does three per side, and importing a
 * PKCS#8 private key costs about 10x the X25519 itself here (OpenSSL 3's
 * decoder: ~390 µs against ~37 µs; an SPKI public key ~90 µs). Here key
 * pairs are generated as KeyObjects and the private one is kept beside the
 * bytes noise holds (a WeakMap keyed by that very array), and a peer's public
 * key is imported from JWK (~13 µs). HKDF uses Node's instead of a JavaScript
 * SHA-256. The handshake, its messages and its security are unchanged: the
 * same X25519, HKDF-SHA256 and ChaCha20-Poly1305, only computed natively.
 */
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';

import { defaultCrypto } from '@libp2p/noise/crypto';
import type { ICryptoInterface } from '@libp2p/noise';
import type { Uint8ArrayList } from 'uint8arraylist';

/** The KeyObject of each private key this module generated, by the array noise holds. */
const privateKeys = new WeakMap<Uint8Array, KeyObject>();
const NO_INFO = new Uint8Array(0);
/** PKCS#8 prefix of a raw X25519 private key (RFC 8410), for keys not made here. */
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

function bytes(x: Uint8Array | Uint8ArrayList): Uint8Array {
  return x instanceof Uint8Array ? x : x.subarray();
}

function privateKeyObject(raw: Uint8Array): KeyObject {
  const known = privateKeys.get(raw);
  if (known) return known;
  return createPrivateKey({
    key: Buffer.concat([X25519_PKCS8_PREFIX, raw]),
    format: 'der',
    type: 'pkcs8',
  });
}

/** generateKeyPairSync with JWK encodings, which Node's type declarations leave out. */
const generateJwkPair = generateKeyPairSync as unknown as (
  type: 'x25519',
  options: {
    publicKeyEncoding: { type: 'spki'; format: 'jwk' };
    privateKeyEncoding: { type: 'pkcs8'; format: 'jwk' };
  },
) => { publicKey: JsonWebKey; privateKey: JsonWebKey };

/** The raw halves of imported keys (never of generateKeyPairSync's KeyObjects: see below). */
function keyPairFrom(privateKey: KeyObject, publicKey: KeyObject) {
  const pub = publicKey.export({ format: 'jwk' });
  const priv = privateKey.export({ format: 'jwk' });
  const pair = {
    publicKey: new Uint8Array(Buffer.from(pub.x!, 'base64url')),
    privateKey: new Uint8Array(Buffer.from(priv.d!, 'base64url')),
  };
  privateKeys.set(pair.privateKey, privateKey);
  return pair;
}

export const nativeNoiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  getHKDF(ck, ikm) {
    const okm = new Uint8Array(hkdfSync('sha256', ikm, ck, NO_INFO, 96));
    return [okm.subarray(0, 32), okm.subarray(32, 64), okm.subarray(64, 96)];
  },
  generateX25519KeyPair() {
    // Encoded as JWK by the generation itself, and the KeyObject imported
    // from that: exporting the KeyObjects that generateKeyPairSync returns
    // deadlocks Node 20 now and then (a garbage collection during the export
    // finalizes the generation job, whose destructor takes the key's mutex
    // that the export holds; backends/tcp/identity-seed.ts). About 40 µs more
    // per key pair (one more X25519 base-point multiplication).
    const { publicKey, privateKey } = generateJwkPair('x25519', {
      publicKeyEncoding: { type: 'spki', format: 'jwk' },
      privateKeyEncoding: { type: 'pkcs8', format: 'jwk' },
    });
    const pair = {
      publicKey: new Uint8Array(Buffer.from(publicKey.x!, 'base64url')),
      privateKey: new Uint8Array(Buffer.from(privateKey.d!, 'base64url')),
    };
    privateKeys.set(pair.privateKey, createPrivateKey({ key: privateKey, format: 'jwk' }));
    return pair;
  },
  generateX25519KeyPairFromSeed(seed) {
    const privateKey = privateKeyObject(seed);
    return keyPairFrom(privateKey, createPublicKey(privateKey));
  },
  generateX25519SharedKey(privateKey, publicKey) {
    const peer = createPublicKey({
      key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(bytes(publicKey)).toString('base64url') },
      format: 'jwk',
    });
    return diffieHellman({ privateKey: privateKeyObject(bytes(privateKey)), publicKey: peer });
  },
};
