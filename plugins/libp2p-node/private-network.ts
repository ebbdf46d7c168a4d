/**
 * A libp2p private network: the pnet protocol of go-libp2p and `@libp2p/pnet`
 * (each side sends a random 24-byte nonce, then every byte of the connection
 * is XORed with XSalsa20(pre-shared key, own nonce) beneath the noise
 * handshake), plus key confirmation: right after the nonces each side sends
 * HMAC-SHA256(key, "nixl-ts/pnet/1" | its nonce | the peer's nonce) and checks
 * the peer's. A peer without the key is refused after one round trip, before
 * noise, and holds nothing open (plain pnet would leave it to time out on
 * garbage). Keys are interchangeable with swarm keys; the wire is not plain
 * pnet.
 *
 * Why not `@libp2p/pnet` itself: its release here (3.0.27) hands whole
 * writes to the `xsalsa20` WebAssembly cipher, whose memory is shared by the
 * process; a write over about 640 KiB grows that memory, which detaches
 * every other cipher's view of it, and each of them then grows it again on
 * its next write until the 64 MiB ceiling throws an uncaught RangeError (the
 * process dies). It also never finalizes its ciphers, so each connection
 * keeps two slots of the shared pool for good. Upstream fixed both (js-libp2p
 * PR 3585); this is the same protocol with the same fix: the cipher is fed in
 * chunks that never grow its memory, and finalized when the connection
 * closes.
 *
 * Reading is also metered here, beneath everything else a peer can make this
 * process do (decrypting, demultiplexing, decoding): each connection may
 * deliver at most `bytesPerSecond` (after a burst), and at most `turnBytes`
 * in one turn of the event loop; past either the socket is paused (TCP
 * backpressure holds the sender) and resumed later. A flood then costs
 * bounded time per turn instead of stalling the event loop.
 *
 * Writing is gathered per event-loop turn (see CORK_BYTES): the frames a turn
 * produces for one connection leave in one socket write.
 */
import { createRequire } from 'node:module';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

import { AbstractMultiaddrConnection, byteStream } from '@libp2p/utils';
import type {
  AbortOptions,
  ConnectionProtector,
  MessageStream,
  MultiaddrConnection,
} from '@libp2p/interface';
import type { SendResult } from '@libp2p/utils';
import type { Uint8ArrayList } from 'uint8arraylist';

interface XSalsa20 {
  update(input: Uint8Array, output?: Uint8Array): Uint8Array;
  finalize(): void;
}
const xsalsa20 = createRequire(import.meta.url)('xsalsa20') as (
  nonce: Uint8Array,
  key: Uint8Array,
) => XSalsa20;

export const PNET_NONCE_BYTES = 24;
export const PNET_KEY_BYTES = 32;
const CONFIRM_BYTES = 32;
const CONFIRM_LABEL = new TextEncoder().encode('nixl-ts/pnet/1');

/** Proof that the sender of `from` holds the key, bound to both nonces. */
function confirmation(key: Uint8Array, from: Uint8Array, to: Uint8Array): Uint8Array {
  return new Uint8Array(
    createHmac('sha256', key).update(CONFIRM_LABEL).update(from).update(to).digest(),
  );
}

/** Thrown when the peer's key confirmation does not match: it does not hold the cluster key. */
export class PrivateNetworkKeyError extends Error {
  readonly name = 'PrivateNetworkKeyError';
}
/**
 * Largest piece handed to the cipher at once. Its WebAssembly memory starts
 * at 640 KiB and holds one 64-byte slot per live cipher before the data:
 * 16 KiB pieces leave room for thousands of connections without a grow.
 */
const CHUNK = 16 * 1024;
/**
 * Writes of one event-loop turn on a connection are gathered into one socket
 * write, up to this many bytes (past it they go at once, with the socket's
 * backpressure). Each yamux frame (a mesh frame, a window update answering
 * every frame read, a stream opening) was a write syscall of its own: on
 * loopback and veth that syscall also runs the receiver's TCP stack, and it
 * was the largest single cost of a cluster start in the CPU profiles.
 */
const CORK_BYTES = 64 * 1024;
/** Bound on the nonce exchange and key confirmation. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

export interface ReadLimits {
  /** Sustained bytes a second one connection may deliver. */
  bytesPerSecond: number;
  /** Bytes it may deliver at once above that (e.g. one large metadata fetch). */
  burstBytes: number;
  /** Bytes it may deliver in one event-loop turn before its socket is paused until the next. */
  turnBytes: number;
}

export const DEFAULT_READ_LIMITS: ReadLimits = {
  bytesPerSecond: 8 * 1024 * 1024,
  burstBytes: 16 * 1024 * 1024,
  turnBytes: 64 * 1024,
};

/** XORs `input` with the cipher's next key stream bytes, in chunks; returns a new array. */
function xorInChunks(cipher: XSalsa20, input: Uint8Array): Uint8Array {
  const output = new Uint8Array(input.byteLength);
  for (let off = 0; off < input.byteLength; off += CHUNK) {
    const end = Math.min(off + CHUNK, input.byteLength);
    cipher.update(input.subarray(off, end), output.subarray(off, end));
  }
  return output;
}

/**
 * Meters a connection's inbound bytes and pauses its socket past the limits:
 * the paused state is the union of the layer above asking for a pause and
 * the meter's own.
 */
class ReadMeter {
  private tokens: number;
  private last = performance.now();
  private turn = 0;
  private turnReset = false;
  private throttled = false;
  private upperPaused = false;
  private timer?: ReturnType<typeof setTimeout>;
  private closed = false;

  constructor(
    private readonly conn: MultiaddrConnection,
    private readonly limits: ReadLimits,
  ) {
    this.tokens = limits.burstBytes;
  }

  /** Counts `n` bytes just read; pauses the socket if they were over a limit. */
  read(n: number): void {
    if (this.closed) return;
    const now = performance.now();
    const l = this.limits;
    this.tokens = Math.min(
      l.burstBytes,
      this.tokens + ((now - this.last) / 1000) * l.bytesPerSecond,
    );
    this.last = now;
    this.tokens -= n;
    this.turn += n;
    if (!this.turnReset) {
      this.turnReset = true;
      setImmediate(() => {
        this.turnReset = false;
        this.turn = 0;
      });
    }
    if (this.throttled) return;
    if (this.tokens < 0) {
      this.throttle(Math.ceil((-this.tokens / l.bytesPerSecond) * 1000));
    } else if (this.turn >= l.turnBytes) {
      this.throttle(0);
    }
  }

  setUpperPaused(paused: boolean): void {
    this.upperPaused = paused;
    this.apply();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private throttle(ms: number): void {
    this.throttled = true;
    this.apply();
    const resume = () => {
      this.timer = undefined;
      this.throttled = false;
      this.apply();
    };
    // A pause to the next turn, or until the rate has paid for what was read.
    if (ms <= 0) setImmediate(resume);
    else {
      this.timer = setTimeout(resume, ms);
      this.timer.unref?.();
    }
  }

  private apply(): void {
    if (this.closed) return;
    try {
      if (this.throttled || this.upperPaused) this.conn.pause();
      else this.conn.resume();
    } catch {
      // closing: nothing more to read anyway
    }
  }
}

class PrivateConnection extends AbstractMultiaddrConnection {
  private readonly maConn: MultiaddrConnection;
  private inbound?: XSalsa20;
  private outbound?: XSalsa20;
  private readonly meter: ReadMeter;
  /** Encrypted bytes waiting for this turn's write (see CORK_BYTES). */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;

  constructor(init: {
    maConn: MultiaddrConnection;
    localNonce: Uint8Array;
    remoteNonce: Uint8Array;
    key: Uint8Array;
    readLimits: ReadLimits;
  }) {
    const { maConn } = init;
    super({
      log: maConn.log.newScope('pnet'),
      remoteAddr: maConn.remoteAddr,
      direction: maConn.direction,
    });
    this.maConn = maConn;
    this.inbound = xsalsa20(init.remoteNonce, init.key);
    this.outbound = xsalsa20(init.localNonce, init.key);
    this.meter = new ReadMeter(maConn, init.readLimits);
    maConn.addEventListener('message', (evt) => {
      const inbound = this.inbound;
      if (!inbound) return;
      const data = evt.data;
      this.meter.read(data.byteLength);
      if (data instanceof Uint8Array) this.onData(xorInChunks(inbound, data));
      else for (const buf of data) this.onData(xorInChunks(inbound, buf));
    });
    maConn.addEventListener('drain', () => this.onMuxerDrain());
    maConn.addEventListener('close', (evt) => {
      this.release();
      if (evt.error != null) {
        if (evt.local) this.abort(evt.error);
        else this.onRemoteReset();
      } else {
        this.onTransportClosed();
      }
    });
  }

  /** Hands both ciphers' slots back to the shared pool (and wipes the key there). Idempotent. */
  private release(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.meter.close();
    this.inbound?.finalize();
    this.outbound?.finalize();
    this.inbound = this.outbound = undefined;
  }

  async sendClose(options?: AbortOptions): Promise<void> {
    this.flush();
    await this.maConn.close(options);
  }

  sendData(data: Uint8ArrayList): SendResult {
    const outbound = this.outbound;
    if (!outbound) return { sentBytes: data.byteLength, canSendMore: false };
    // Encrypted now, in order: the key stream follows the bytes as they are sent.
    this.pending.push(xorInChunks(outbound, data.subarray()));
    this.pendingBytes += data.byteLength;
    if (this.pendingBytes >= CORK_BYTES)
      return { sentBytes: data.byteLength, canSendMore: this.flush() };
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        try {
          this.flush();
        } catch (err) {
          // The socket went away meanwhile: the connection is over.
          this.abort(err as Error);
        }
      });
    }
    return { sentBytes: data.byteLength, canSendMore: true };
  }

  /** Writes what is pending as one buffer; the socket's answer (false: wait for drain). */
  private flush(): boolean {
    if (this.pendingBytes === 0) return true;
    const chunks = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    return this.maConn.send(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
  }

  sendReset(err: Error): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.maConn.abort(err);
  }

  sendPause(): void {
    this.meter.setUpperPaused(true);
  }

  sendResume(): void {
    this.meter.setUpperPaused(false);
  }
}

class PrivateNetwork implements ConnectionProtector {
  readonly [Symbol.toStringTag] = 'nixl-ts/private-network';
  constructor(
    private readonly key: Uint8Array,
    private readonly readLimits: ReadLimits,
  ) {}

  async protect(connection: MessageStream, options?: AbortOptions): Promise<MessageStream> {
    // The nonces and key confirmation take one round trip: a peer that stays
    // silent holds a pending connection for at most HANDSHAKE_TIMEOUT_MS.
    const limit = AbortSignal.timeout(HANDSHAKE_TIMEOUT_MS);
    const signal = options?.signal ? AbortSignal.any([options.signal, limit]) : limit;
    const localNonce = new Uint8Array(randomBytes(PNET_NONCE_BYTES));
    const bytes = byteStream(connection);
    const [remote] = await Promise.all([
      bytes.read({ bytes: PNET_NONCE_BYTES, signal }),
      bytes.write(localNonce, { signal }),
    ]);
    const remoteNonce = remote.subarray();
    const [proof] = await Promise.all([
      bytes.read({ bytes: CONFIRM_BYTES, signal }),
      bytes.write(confirmation(this.key, localNonce, remoteNonce), { signal }),
    ]);
    const expected = confirmation(this.key, remoteNonce, localNonce);
    if (!timingSafeEqual(proof.subarray(), expected)) {
      const err = new PrivateNetworkKeyError('the peer does not hold the cluster key');
      connection.abort(err);
      throw err;
    }
    return new PrivateConnection({
      maConn: bytes.unwrap() as unknown as MultiaddrConnection,
      localNonce,
      remoteNonce,
      key: this.key,
      readLimits: this.readLimits,
    });
  }
}

/** A libp2p `connectionProtector` for a private network under a 32-byte key, metering reads. */
export function privateNetwork(
  key: Uint8Array,
  readLimits: ReadLimits = DEFAULT_READ_LIMITS,
): () => ConnectionProtector {
  if (key.byteLength !== PNET_KEY_BYTES) {
    throw new RangeError(`a private-network key has ${PNET_KEY_BYTES} bytes`);
  }
  const copy = new Uint8Array(key);
  const limits = { ...readLimits };
  return () => new PrivateNetwork(copy, limits);
}
