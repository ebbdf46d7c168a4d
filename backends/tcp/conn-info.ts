import { isIP } from 'node:net';

import { MismatchError } from '../../src/errors.js';

/** What a peer needs to reach this agent's TCP engine. */
export interface TcpConnInfo {
  host: string;
  port: number;
  /** The agent secret the peer proves in the challenge-response. */
  secret: Uint8Array;
  /** The agent's identity key (Ed25519 public key): its name is bound to it. */
  publicKey: Uint8Array;
  /** Abstract Unix socket for peers on the same host ('' when same_host is off). */
  unixName: string;
}

// Layout: version u8 (2), port u16 LE, secret[32], publicKey[32],
// unix name length u8, unix name (ASCII), host length u8, host (ASCII).
// Version 1 (no identity key) is refused: its handshake is not spoken any more.
const VERSION = 2;
const FIXED = 1 + 2 + 32 + 32;

export function encodeConnInfo(ci: TcpConnInfo): Uint8Array {
  const host = Buffer.from(ci.host, 'ascii');
  const unix = Buffer.from(ci.unixName, 'ascii');
  const out = Buffer.alloc(FIXED + 1 + unix.length + 1 + host.length);
  out.writeUInt8(VERSION, 0);
  out.writeUInt16LE(ci.port, 1);
  out.set(ci.secret, 3);
  out.set(ci.publicKey, 35);
  out.writeUInt8(unix.length, FIXED);
  out.set(unix, FIXED + 1);
  out.writeUInt8(host.length, FIXED + 1 + unix.length);
  out.set(host, FIXED + 2 + unix.length);
  return out;
}

export function decodeConnInfo(blob: Uint8Array, agent: string): TcpConnInfo {
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const bad = (why: string) =>
    new MismatchError(`TCP connection info of '${agent}' is malformed: ${why}`, {
      backend: 'TCP',
      agent,
    });
  if (b.length < FIXED + 2) throw bad(`${b.length} bytes`);
  if (b.readUInt8(0) !== VERSION) throw bad(`version ${b.readUInt8(0)}, expected ${VERSION}`);
  const unixLen = b.readUInt8(FIXED);
  if (b.length < FIXED + 2 + unixLen) throw bad('length does not match the unix socket field');
  // toString with bounds and plain Uint8Array copies below, not Buffer.subarray: a
  // discovery member decodes every other member's info once, and Node 20's
  // Buffer.subarray was over half of this function (bench/micro/load-md.ts).
  const unixName = b.toString('ascii', FIXED + 1, FIXED + 1 + unixLen);
  if (!/^[\x21-\x7e]*$/.test(unixName)) throw bad('unix socket name is not printable ASCII');
  const hostLen = b.readUInt8(FIXED + 1 + unixLen);
  if (b.length !== FIXED + 2 + unixLen + hostLen) throw bad('length does not match the host field');
  const host = b.toString('ascii', FIXED + 2 + unixLen);
  if (isIP(host) === 0) throw bad(`host '${host}' is not a numeric IP address`);
  const port = b.readUInt16LE(1);
  if (port === 0) throw bad('port 0');
  return {
    host,
    port,
    secret: new Uint8Array(blob.buffer, blob.byteOffset + 3, 32).slice(),
    publicKey: new Uint8Array(blob.buffer, blob.byteOffset + 35, 32).slice(),
    unixName,
  };
}
