import { isIP } from 'node:net';

import { MismatchError } from '../../src/errors.js';

/** What a peer needs to reach this agent's TCP engine. */
export interface TcpConnInfo {
  host: string;
  port: number;
  /** The agent secret the peer proves in the challenge-response. */
  secret: Uint8Array;
}

// Layout: version u8 (1), port u16 LE, secret[32], host length u8, host (ASCII).
const VERSION = 1;

export function encodeConnInfo(ci: TcpConnInfo): Uint8Array {
  const host = Buffer.from(ci.host, 'ascii');
  const out = Buffer.alloc(1 + 2 + 32 + 1 + host.length);
  out.writeUInt8(VERSION, 0);
  out.writeUInt16LE(ci.port, 1);
  out.set(ci.secret, 3);
  out.writeUInt8(host.length, 35);
  out.set(host, 36);
  return out;
}

export function decodeConnInfo(blob: Uint8Array, agent: string): TcpConnInfo {
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const bad = (why: string) =>
    new MismatchError(`TCP connection info of '${agent}' is malformed: ${why}`, {
      backend: 'TCP',
      agent,
    });
  if (b.length < 36) throw bad(`${b.length} bytes`);
  if (b.readUInt8(0) !== VERSION) throw bad(`version ${b.readUInt8(0)}, expected ${VERSION}`);
  const hostLen = b.readUInt8(35);
  if (b.length !== 36 + hostLen) throw bad('length does not match the host field');
  const host = b.subarray(36).toString('ascii');
  if (isIP(host) === 0) throw bad(`host '${host}' is not a numeric IP address`);
  const port = b.readUInt16LE(1);
  if (port === 0) throw bad('port 0');
  return { host, port, secret: new Uint8Array(b.subarray(3, 35)) };
}
