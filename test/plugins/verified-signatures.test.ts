/**
 * The process-wide cache of verified signatures (verified-signatures.ts)
 * answers only for the exact (signer, message, signature) it was given: a
 * change of any byte, or of where one field ends and the next begins, is a
 * miss; the oldest entries go at the bound.
 */
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import {
  MAX_VERIFIED_ENTRIES,
  rememberVerified,
  signatureKey,
  wasVerified,
} from '../../plugins/gossip/verified-signatures.js';

describe('verified signatures', () => {
  it('hits only the exact triple that verified', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const message = new Uint8Array(randomBytes(120));
    const sig = new Uint8Array(sign(null, message, privateKey));
    expect(verify(null, message, publicKey, sig)).toBe(true);
    const signer = '12D3KooWsigner' + randomBytes(4).toString('hex');
    const key = signatureKey(signer, message, sig);
    expect(wasVerified(key)).toBe(false);
    rememberVerified(key);
    expect(wasVerified(key)).toBe(true);
    // The same bytes in fresh arrays (and as a view into a larger buffer) are the same triple.
    const padded = new Uint8Array(message.byteLength + 10);
    padded.set(message, 5);
    expect(wasVerified(signatureKey(signer, padded.subarray(5, 5 + 120), sig.slice()))).toBe(true);

    // Any one byte changed, in the message or the signature: a miss, and the real check fails.
    for (let i = 0; i < message.byteLength; i += 7) {
      const m = message.slice();
      m[i]! ^= 1;
      expect(wasVerified(signatureKey(signer, m, sig))).toBe(false);
      expect(verify(null, m, publicKey, sig)).toBe(false);
    }
    for (let i = 0; i < sig.byteLength; i += 5) {
      const s = sig.slice();
      s[i]! ^= 0x80;
      expect(wasVerified(signatureKey(signer, message, s))).toBe(false);
      expect(verify(null, message, publicKey, s)).toBe(false);
    }
    // Another signer with the same message and signature: a miss.
    expect(wasVerified(signatureKey(signer + 'x', message, sig))).toBe(false);
    expect(wasVerified(signatureKey(signer.slice(1), message, sig))).toBe(false);
    // The same bytes split differently between message and signature: a miss.
    const joined = new Uint8Array([...message, ...sig]);
    expect(wasVerified(signatureKey(signer, joined.subarray(0, 119), joined.subarray(119)))).toBe(
      false,
    );
    expect(wasVerified(signatureKey(signer, joined.subarray(0, 121), joined.subarray(121)))).toBe(
      false,
    );
  });

  it('keys a triple by a digest, so a record of a MiB costs the cache no more than a small one', () => {
    const big = signatureKey('signer', new Uint8Array(1024 * 1024), new Uint8Array(64));
    const small = signatureKey('signer', new Uint8Array(100), new Uint8Array(64));
    expect(big.length).toBe(small.length);
    expect(big.length).toBeLessThan(64);
  });

  it('forgets the oldest triples at the bound', () => {
    const tag = randomBytes(4).toString('hex');
    const keyAt = (i: number) =>
      signatureKey(`bound-${tag}`, new Uint8Array(new Uint32Array([i]).buffer), new Uint8Array(64));
    for (let i = 0; i < MAX_VERIFIED_ENTRIES + 10; i++) rememberVerified(keyAt(i));
    for (let i = 0; i < 10; i++) expect(wasVerified(keyAt(i))).toBe(false);
    for (let i = 10; i < MAX_VERIFIED_ENTRIES + 10; i += 97)
      expect(wasVerified(keyAt(i))).toBe(true);
  });
});
