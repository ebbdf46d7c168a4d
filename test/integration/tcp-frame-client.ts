/**
 * A raw TCP data-plane client for tests: it speaks native/tcp/FRAMES.md
 * directly, so a test can craft any frame, bypassing every check an agent
 * makes before it sends one. Loopback only.
 */
import {
  createHmac,
  createPrivateKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
} from 'node:crypto';
import { connect, type Socket } from 'node:net';

import { decodeConnInfo } from '../../backends/tcp/conn-info.js';
import { decodeMetadata } from '../../src/metadata.js';

export const OP = {
  CHALLENGE: 1,
  HELLO: 2,
  HELLO_OK: 3,
  WRITE: 4,
  READ: 5,
  READ_DATA: 6,
  ACK: 7,
  ERR: 8,
  NOTIF: 9,
  CMA_WRITE: 10,
  CMA_READ: 11,
  CMA_GRANT: 12,
  CMA_DONE: 13,
  SHM_MAP: 14,
  SHM_GRANT: 15,
  SHM_UNMAP: 16,
  SHM_UNMAPPED: 17,
} as const;
export const FLAG_ACK_REQ = 1;
export const FLAG_CMA = 2;
export const FLAG_NOTIF_ACK = 8;
export const MAGIC = 0x3254584e;
export const HEADER = 48;

export interface FrameFields {
  op: number;
  flags?: number;
  status?: number;
  regionId?: number;
  xferId?: bigint;
  key?: bigint;
  addr?: bigint;
  len?: bigint | number;
  magic?: number;
}

export function header(f: FrameFields): Buffer {
  const b = Buffer.alloc(HEADER);
  b.writeUInt32LE(f.magic ?? MAGIC, 0);
  b.writeUInt8(f.op, 4);
  b.writeUInt8(f.flags ?? 0, 5);
  b.writeInt32LE(f.status ?? 0, 8);
  b.writeUInt32LE(f.regionId ?? 0, 12);
  b.writeBigUInt64LE(f.xferId ?? 0n, 16);
  b.writeBigUInt64LE(f.key ?? 0n, 24);
  b.writeBigUInt64LE(f.addr ?? 0n, 32);
  b.writeBigUInt64LE(BigInt(f.len ?? 0), 40);
  return b;
}

export interface ParsedFrame {
  op: number;
  flags: number;
  status: number;
  xferId: bigint;
  len: number;
  payload: Buffer;
  trailer?: number;
}

/** What a peer learns from an agent's metadata: where to connect, the secret, region keys. */
export interface TargetInfo {
  host: string;
  port: number;
  secret: Uint8Array;
  publicKey: Uint8Array;
  unixName: string;
  regions: { addr: bigint; len: number; regionId: number; key: bigint }[];
}

export function targetInfo(md: Uint8Array): TargetInfo {
  const m = decodeMetadata(md);
  const conn = m.conns.find((c) => c.backend === 'TCP');
  if (!conn) throw new Error('no TCP connection info in the metadata');
  const ci = decodeConnInfo(conn.connInfo, m.name);
  const regions = m.sections
    .filter((s) => s.backend === 'TCP')
    .flatMap((s) => s.regions)
    .map((r) => {
      const pd = Buffer.from(r.publicData);
      return {
        addr: BigInt(r.addr),
        len: r.len,
        regionId: pd.readUInt32LE(0),
        key: pd.readBigUInt64LE(4),
      };
    });
  return {
    host: ci.host,
    port: ci.port,
    secret: ci.secret,
    publicKey: ci.publicKey,
    unixName: ci.unixName,
    regions,
  };
}

export class FrameClient {
  readonly socket: Socket;
  #buf = Buffer.alloc(0);
  #waiters: (() => void)[] = [];
  #closed = false;
  readonly closed: Promise<void>;
  /** Set when the handshake negotiated same-host copies. */
  cma = false;
  /** The target's challenge and its HELLO_OK (to check what it granted, and its MAC). */
  nonceT: Buffer = Buffer.alloc(0);
  helloOk: ParsedFrame | undefined;
  /** Frames parsed from the target, unless `discard` is on. */
  discard = false;
  bytesIn = 0;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.#closed = true;
        resolve();
        this.#wake();
      });
    });
    socket.on('error', () => {});
    socket.on('data', (d) => {
      this.bytesIn += d.length;
      if (this.discard) return;
      this.#buf = this.#buf.length ? Buffer.concat([this.#buf, d]) : d;
      this.#wake();
    });
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** A connection that has not authenticated (for garbage and bad-MAC cases). */
  static async raw(host: string, port: number): Promise<FrameClient> {
    const s = connect(port, host);
    s.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      s.once('connect', resolve);
      s.once('error', reject);
    });
    return new FrameClient(s);
  }

  /** A connection to the target's same-host Unix socket (abstract namespace), unauthenticated. */
  static async rawUnix(unixName: string): Promise<FrameClient> {
    const s = connect({ path: `\0${unixName}` });
    await new Promise<void>((resolve, reject) => {
      s.once('connect', resolve);
      s.once('error', reject);
    });
    return new FrameClient(s);
  }

  /**
   * Connects and authenticates as `name`: a MAC with the target's secret and
   * a signature with an identity key (a fresh one unless given). `cma` asks
   * for same-host copies (granted only over the Unix socket, `unix`, to
   * another process than the target's).
   */
  static async open(
    t: TargetInfo,
    name: string,
    opts: {
      cma?: boolean;
      unix?: boolean;
      secret?: Uint8Array;
      identity?: KeyObject;
      /** More HELLO flags (features asked for, e.g. FLAG_NOTIF_ACK). */
      flags?: number;
    } = {},
  ): Promise<FrameClient> {
    const c = opts.unix
      ? await FrameClient.rawUnix(t.unixName)
      : await FrameClient.raw(t.host, t.port);
    const ch = await c.next(10_000);
    if (!ch || ch.op !== OP.CHALLENGE || ch.payload.length !== 32) {
      throw new Error('no challenge from the target');
    }
    const payload = helloPayload(t, name, ch.payload, opts);
    const flags = (opts.cma ? FLAG_CMA : 0) | (opts.flags ?? 0);
    c.send(header({ op: OP.HELLO, flags, len: payload.length }), payload);
    const ok = await c.next(10_000);
    if (!ok || ok.op !== OP.HELLO_OK) {
      c.socket.destroy();
      throw new Error('the target refused the handshake');
    }
    c.cma = (ok.flags & FLAG_CMA) !== 0;
    c.nonceT = ch.payload;
    c.helloOk = ok;
    return c;
  }

  send(...parts: Buffer[]): boolean {
    return this.socket.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
  }

  /** The next frame from the target, or undefined if the connection closed or time ran out. */
  async next(timeoutMs = 10_000): Promise<ParsedFrame | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = this.#tryParse();
      if (f) return f;
      if (this.#closed || Date.now() > deadline) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  #tryParse(): ParsedFrame | undefined {
    const b = this.#buf;
    if (b.length < HEADER) return undefined;
    const op = b.readUInt8(4);
    const len = Number(b.readBigUInt64LE(40));
    const trailer = op === OP.READ_DATA ? 4 : 0;
    if (b.length < HEADER + len + trailer) return undefined;
    const f: ParsedFrame = {
      op,
      flags: b.readUInt8(5),
      status: b.readInt32LE(8),
      xferId: b.readBigUInt64LE(16),
      len,
      payload: Buffer.from(b.subarray(HEADER, HEADER + len)),
      trailer: trailer ? b.readInt32LE(HEADER + len) : undefined,
    };
    this.#buf = b.subarray(HEADER + len + trailer);
    return f;
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * A fresh Ed25519 identity key, imported from the DER its generation encoded:
 * exporting a KeyObject fresh from generateKeyPairSync (rawPublicKey does)
 * can deadlock Node 20 (backends/tcp/identity-seed.ts).
 */
function freshIdentity(): KeyObject {
  const { privateKey } = generateKeyPairSync('ed25519', {
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
  });
  return createPrivateKey({ key: privateKey, format: 'der', type: 'pkcs8' });
}

/** The raw 32-byte public key of an Ed25519 key. */
export function rawPublicKey(key: KeyObject): Buffer {
  return Buffer.from(key.export({ format: 'jwk' }).x!, 'base64url');
}

/** A HELLO payload (FRAMES.md, handshake v2) answering challenge `nonceT`. */
export function helloPayload(
  t: TargetInfo,
  name: string,
  nonceT: Buffer,
  opts: { secret?: Uint8Array; identity?: KeyObject; nonceI?: Buffer; streamIndex?: number } = {},
): Buffer {
  const identity = opts.identity ?? freshIdentity();
  const publicKey = rawPublicKey(identity);
  const nonceI = opts.nonceI ?? Buffer.alloc(32, 7);
  const mac = createHmac('sha256', opts.secret ?? t.secret)
    .update('nixl-tcp-v2 hello')
    .update(nonceT)
    .update(nonceI)
    .update(publicKey)
    .update(name)
    .digest();
  const signature = sign(
    null,
    Buffer.concat([
      Buffer.from('nixl-tcp-v2 hello-sig'),
      nonceT,
      nonceI,
      Buffer.from(t.publicKey),
      Buffer.from(name),
    ]),
    identity,
  );
  const fixed = Buffer.alloc(168);
  mac.copy(fixed, 0);
  nonceI.copy(fixed, 32);
  publicKey.copy(fixed, 64);
  signature.copy(fixed, 96);
  fixed.writeUInt32LE(opts.streamIndex ?? 0, 160);
  fixed.writeUInt32LE(Buffer.byteLength(name), 164);
  return Buffer.concat([fixed, Buffer.from(name)]);
}
