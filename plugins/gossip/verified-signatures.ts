/**
 * Signatures this process has already verified, by a digest of their bytes.
 *
 * Every member checks each record and alive it accepts itself; a process that
 * holds several agents (tests, benchmarks, a worker serving several engines)
 * would otherwise verify the same (signer, message, signature) once per
 * agent. A triple that verified once verifies again, so a hit here gives the
 * answer the arithmetic would: only successes are kept, keyed by the SHA-256
 * of all three byte strings (length-prefixed). One agent per process gains
 * nothing but the digest (~1 µs per KiB).
 *
 * Keys are digests, not the bytes, because a record may carry up to
 * `maxMessageBytes` of metadata: the cache costs ~100 bytes per entry at most.
 */
import { createHash } from 'node:crypto';
import { setNewest } from '../../src/bounded-map.js';

/** About 400 KiB at most (a 44-character key and the map's entry). */
export const MAX_VERIFIED_ENTRIES = 4096;

const verified = new Map<string, true>();

function lengthOf(n: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE(n);
  return out;
}

/** One digest for the triple; the lengths keep the fields' boundaries unambiguous. */
export function signatureKey(signer: string, message: Uint8Array, sig: Uint8Array): string {
  const signerBytes = Buffer.from(signer, 'utf8');
  return createHash('sha256')
    .update(lengthOf(signerBytes.byteLength))
    .update(signerBytes)
    .update(lengthOf(message.byteLength))
    .update(message)
    .update(sig)
    .digest('base64');
}

/** Whether this exact triple verified before in this process. */
export function wasVerified(key: string): boolean {
  return verified.has(key);
}

/** Remembers a triple that verified (the oldest is forgotten at the bound). */
export function rememberVerified(key: string): void {
  setNewest(verified, key, true, MAX_VERIFIED_ENTRIES);
}
