/**
 * Signatures this process has already verified, by their exact bytes.
 *
 * Every member checks each record and alive it accepts itself; a process that
 * holds several agents (tests, benchmarks, a worker serving several engines)
 * would otherwise verify the same (signer, message, signature) once per
 * agent. A triple that verified once verifies again, so a hit here is the
 * same answer the arithmetic would give: only successes are kept, keyed by
 * all three byte strings in full. One agent per process gains nothing.
 */
import { setNewest } from '../../src/bounded-map.js';

/** About 1 MiB of keys at most (a key holds ~250 one-byte characters). */
export const MAX_VERIFIED_ENTRIES = 4096;

const verified = new Map<string, true>();

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** One string for the triple; the lengths keep the fields' boundaries unambiguous. */
export function signatureKey(signer: string, message: Uint8Array, sig: Uint8Array): string {
  return `${signer.length}:${signer}${message.byteLength}:${latin1(message)}${latin1(sig)}`;
}

/** Whether this exact triple verified before in this process. */
export function wasVerified(key: string): boolean {
  return verified.has(key);
}

/** Remembers a triple that verified (the oldest is forgotten at the bound). */
export function rememberVerified(key: string): void {
  setNewest(verified, key, true, MAX_VERIFIED_ENTRIES);
}
