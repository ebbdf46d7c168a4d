/**
 * A UCX wire-version-5 sender written from native/ucx/wire.h, for tests that
 * need the exact bytes a sender put on the wire: its HELLOs and tagged
 * notifications (kAmNotif). Its own identity key; the bytes go out through a
 * real UCX agent's `forgeAm`. Tests keep what it returns to replay it, or send
 * what a stranger would.
 */
import {
  createHmac,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto';

import { decodeMetadataHeader } from '../../src/metadata.js';

export const AM_HELLO = 0x4831;
export const AM_NOTIF = 0x4e31;
const VERSION = 5;
const X25519_SPKI = Buffer.from('302a300506032b656e032100', 'hex');

const u64 = (v: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
};
const u16 = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
};
const rawPublic = (k: KeyObject): Buffer => k.export({ format: 'der', type: 'spki' }).subarray(-32);

/** The X25519 key in a UCX agent's metadata (its connection info's last 32 bytes, wire.h). */
export function exchangeKeyOf(md: Uint8Array): Buffer {
  const conn = decodeMetadataHeader(md).conns.find((c) => c.backend === 'UCX')!;
  return Buffer.from(conn.connInfo.subarray(conn.connInfo.length - 32));
}

/** The Ed25519 identity key in a UCX agent's metadata (before its X25519 key, wire.h). */
export function identityKeyOf(md: Uint8Array): Buffer {
  const conn = decodeMetadataHeader(md).conns.find((c) => c.backend === 'UCX')!;
  return Buffer.from(conn.connInfo.subarray(conn.connInfo.length - 64, conn.connInfo.length - 32));
}

/**
 * 64 random bytes whose second half (S, little-endian) is below 2^252, so
 * that a verifier cannot reject it by the range check alone: it costs a
 * whole Ed25519 verification.
 */
function inRangeJunkSignature(): Buffer {
  const sig = randomBytes(64);
  sig[63] = sig[63]! & 0x0f;
  return sig;
}

/** One active message: its id, header and body. */
export type Am = [number, Buffer, Buffer];

export class WireSender {
  readonly #identity = generateKeyPairSync('ed25519');
  /** The raw Ed25519 public key it signs its HELLOs with. */
  readonly identityPublic = rawPublic(this.#identity.publicKey);
  readonly #target: KeyObject;
  #stamp = BigInt(Date.now()) * 1000n;
  #session?: { id: Buffer; key: Buffer; seq: bigint };

  constructor(
    readonly name: string,
    readonly targetName: string,
    targetExchange: Buffer,
  ) {
    this.#target = createPublicKey({
      key: Buffer.concat([X25519_SPKI, targetExchange]),
      format: 'der',
      type: 'spki',
    });
  }

  /** A new session's HELLO (the next stamp), which later notifications go under. */
  hello(): Am {
    const e = generateKeyPairSync('x25519');
    const ephemeral = rawPublic(e.publicKey);
    const stamp = u64(++this.#stamp);
    const name = Buffer.from(this.name);
    const fields = [rawPublic(this.#target), ephemeral, this.identityPublic, stamp, name];
    const transcript = Buffer.concat([Buffer.from('nixl-ucx-v5 hello'), ...fields]);
    const signature = sign(null, transcript, this.#identity.privateKey);
    const shared = diffieHellman({ privateKey: e.privateKey, publicKey: this.#target });
    const key = Buffer.from(
      hkdfSync('sha256', shared, 'nixl-ucx-v5 key', Buffer.concat(fields), 32),
    );
    this.#session = { id: ephemeral.subarray(0, 8), key, seq: 0n };
    const body = Buffer.concat([
      Buffer.from([VERSION]),
      this.identityPublic,
      ephemeral,
      stamp,
      signature,
      name,
    ]);
    return [AM_HELLO, Buffer.alloc(0), body];
  }

  /** A notification under the latest session (its next sequence number). */
  notif(msg: string): Am {
    const s = this.#session!;
    const seq = u64(++s.seq);
    const body = Buffer.from(msg);
    const from = Buffer.from(this.name);
    const to = Buffer.from(this.targetName);
    const amId = Buffer.alloc(4);
    amId.writeUInt32LE(AM_NOTIF);
    const mac = createHmac('sha256', s.key)
      .update('nixl-ucx-v5 am')
      .update(Buffer.concat([amId, s.id, seq, u16(from.length), from, u16(to.length), to, body]))
      .digest()
      .subarray(0, 16);
    const header = Buffer.concat([Buffer.from([VERSION]), s.id, seq, mac, from]);
    return [AM_NOTIF, header, body];
  }
}

/**
 * A HELLO under `name` with a signature that does not verify, by a random
 * identity key or by `identity` (a real agent's public key, from its metadata).
 */
export function junkHello(name: string, identity: Buffer = randomBytes(32)): Am {
  const body = Buffer.concat([
    Buffer.from([VERSION]),
    identity,
    randomBytes(32),
    u64(1n),
    inRangeJunkSignature(),
    Buffer.from(name),
  ]);
  return [AM_HELLO, Buffer.alloc(0), body];
}
