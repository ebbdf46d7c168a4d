/**
 * The value under an agent's `update` key: the SHA-256 of the `metadata`
 * value it applies on top of (32 bytes), then the partial metadata of the
 * registrations. A peer applies the partial metadata only if its view of the
 * agent came from exactly that base; otherwise (it missed a change: a watch
 * that was down, a re-read after an etcd restart) it loads the full
 * `metadata` of the same transaction instead.
 */
import { createHash } from 'node:crypto';

const DIGEST_BYTES = 32;

/** SHA-256 of a `metadata` value, as hex (how views remember what they came from). */
export function metadataDigest(value: Uint8Array): string {
  return createHash('sha256').update(value).digest('hex');
}

export function encodeUpdate(baseDigest: string, partial: Uint8Array): Uint8Array {
  const out = new Uint8Array(DIGEST_BYTES + partial.byteLength);
  out.set(Buffer.from(baseDigest, 'hex'), 0);
  out.set(partial, DIGEST_BYTES);
  return out;
}

/** The base digest and the partial metadata, or undefined for a value too short to hold them. */
export function decodeUpdate(value: Uint8Array): { base: string; partial: Uint8Array } | undefined {
  if (value.byteLength <= DIGEST_BYTES) return undefined;
  return {
    base: Buffer.from(value.buffer, value.byteOffset, DIGEST_BYTES).toString('hex'),
    partial: value.subarray(DIGEST_BYTES),
  };
}
