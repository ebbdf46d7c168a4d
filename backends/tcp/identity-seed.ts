import { randomBytes } from 'node:crypto';

/**
 * A fresh identity key (the Ed25519 private seed) for an engine: its public
 * half goes into the connection info, which binds the agent's name to it.
 *
 * An Ed25519 private key is 32 random bytes (RFC 8032, 5.1.5), which is all
 * that OpenSSL's key generation draws; the engine derives the public key.
 * Not generateKeyPairSync + export: on Node 20 that deadlocks the process
 * now and then. The export holds the new key's mutex while it allocates, a
 * garbage collection in that allocation finalizes the finished key-generation
 * job, and the job's destructor takes the same mutex (the main thread waits
 * on itself forever; bench/discovery/README.md, "A worker that never
 * printed a line").
 */
export function newIdentitySeed(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}
