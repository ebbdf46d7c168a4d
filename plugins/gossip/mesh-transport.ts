/**
 * The membership's transport over libp2p: one long-lived stream per
 * direction per linked peer on the cluster's mesh protocol, carrying
 * length-prefixed frames (mesh-wire.ts). A libp2p connection to a peer that
 * speaks the protocol is a link; dials happen only when the membership asks
 * (mesh upkeep, probes), never because a peer exists.
 *
 * Bounds: a frame is at most `maxFrameBytes` (checked from its length prefix
 * before it is read), a peer's frames are admitted by its message and byte
 * rates (the rest dropped, anti-entropy heals), each outbound queue holds at
 * most `maxQueueBytes` (the rest dropped), and a peer that sends invalid
 * frames is reported to `invalid` (which may ban it).
 */
import { createHash } from 'node:crypto';

import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';

import type { Logger } from '../../src/logger.js';
import { ConnectionBoundError, type ConnectionGate } from '../libp2p-node/connection-gate.js';
import { refusedEverywhere, resetAfterConnect } from '../libp2p-node/dial-failure.js';
import type { ControlNode } from '../libp2p-node/index.js';
import { varintLength } from '../libp2p-node/length-prefix.js';
import { halfWindowUpdates } from '../libp2p-node/window-updates.js';
import { KeyedLimiter } from './limits.js';
import type { MeshMessage, MeshTransport } from './membership.js';
import { decodeFrame, encodeFrame } from './mesh-wire.js';

/** The mesh protocol of a cluster: named by a digest, so the name is never sent. */
export function meshProtocolFor(cluster: string): string {
  const digest = createHash('sha256').update(`nixl-ts/cluster/${cluster}`, 'utf8').digest('hex');
  return `/nixl-ts/mesh/1/${digest.slice(0, 32)}`;
}

export interface MeshTransportOptions {
  protocol: string;
  maxFrameBytes: number;
  maxQueueBytes: number;
  messagesPerSecond: number;
  messageBurst: number;
  bytesPerSecond: number;
  byteBurst: number;
  maxPeers: number;
  dialTimeoutMs: number;
  /** The node's connection bound: every dial here takes a slot of it (see full()). */
  gate: ConnectionGate;
  /** Listen addresses of a member, from its record or where mDNS found it (for dials). */
  addrsOf(id: string): string[];
  refused(id: string): boolean;
  receive(from: string, msg: MeshMessage): void;
  /** A frame that did not decode, or a peer over its rate (counted, reported). */
  invalid(from: string, err: Error): void;
  rateLimited(from: string): void;
  /** The peer does not speak this cluster's mesh protocol (another cluster, or not nixl-ts). */
  foreign(id: string): void;
  /**
   * A dial of the member was reset right after its TCP connect, and so was
   * (or went through) a second one a moment later: its process runs (it
   * accepted, then refused us at its connection bound), which answers a
   * probe as well as an ack would.
   */
  refusedByLive(id: string): void;
  /** True while a probe of the member, or a relay for one, waits for a sign of its life. */
  awaitsAnswer(id: string): boolean;
  /** A dial for a link was refused by our own connection bound (no slot): nothing was sent. */
  linkRefused(id: string): void;
  /** A dial of the member was refused at every address: nothing listens there. */
  unreachable(id: string): void;
  log: Logger;
}

/** Longest stretch of frame handling before yielding to the event loop. */
const SLICE_MS = 5;

/** How long after a reset dial the member is dialled again (see resetSeen). */
const RESET_RECHECK_MS = 250;

interface Outbound {
  queue: Uint8Array[];
  /** Per queued frame: it may open a connection (see MeshTransport.send). */
  dial: boolean[];
  bytes: number;
  writing: boolean;
  stream?: any;
  lp?: any;
}

export class Libp2pMeshTransport implements MeshTransport {
  private readonly out = new Map<string, Outbound>();
  private readonly msgRate: KeyedLimiter;
  private readonly byteRate: KeyedLimiter;
  private readonly dialing = new Set<string>();
  /** Members whose reset dial waits for its second look (see resetSeen). */
  private readonly rechecking = new Set<string>();
  private closed = false;
  private sliceStart = performance.now();
  /**
   * `@libp2p/utils`'s lpStream, imported once in install(): a dynamic import
   * per stream goes through the module loader (and its hooks thread under a
   * loader such as tsx) every time.
   */
  private lpStream!: (typeof import('@libp2p/utils'))['lpStream'];
  /**
   * Bytes sent and frames, for benchmarks; `dialed`: connections a send had
   * to open (a frame for a peer we held no connection to: a relayed probe, an
   * answer to a stranger), each a handshake.
   */
  readonly sent = { frames: 0, bytes: 0, dropped: 0, dialed: 0 };
  /** Bytes of the frames handed to send, by message kind (what the mesh spends its bytes on). */
  readonly bytesByKind: Record<string, number> = {};
  /** Frames handed to send, by message kind. */
  readonly framesByKind: Record<string, number> = {};

  /**
   * A write's deadline, made only when it is needed: lpStream's write reads
   * `signal` only when the stream is backed up and it waits for a drain. A
   * signal made for every frame cost a timer each, and each fired 10 s later
   * (an abort event and its DOMException) although its write ended at once.
   */
  private readonly writeOptions: { readonly signal: AbortSignal };

  constructor(
    private readonly node: ControlNode,
    private readonly o: MeshTransportOptions,
  ) {
    this.msgRate = new KeyedLimiter(o.messagesPerSecond, o.messageBurst, o.maxPeers);
    this.byteRate = new KeyedLimiter(o.bytesPerSecond, o.byteBurst, o.maxPeers);
    this.writeOptions = {
      get signal() {
        return AbortSignal.timeout(o.dialTimeoutMs);
      },
    };
  }

  async install(): Promise<void> {
    this.lpStream = (await import('@libp2p/utils')).lpStream;
    await this.node.handle(
      this.o.protocol,
      (stream: any, connection: any) => void this.serve(stream, connection.remotePeer.toString()),
      { maxInboundStreams: 4, maxOutboundStreams: 4 },
    );
  }

  close(): void {
    this.closed = true;
    for (const o of this.out.values()) o.stream?.abort?.(new Error('closing'));
    this.out.clear();
  }

  sweep(): void {
    this.msgRate.sweep();
    this.byteRate.sweep();
  }

  /** Writes what is queued for every peer (bounded wait), e.g. a tombstone before stopping. */
  async drain(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline && [...this.out.values()].some((o) => o.queue.length || o.writing))
      await new Promise((r) => setTimeout(r, 10));
  }

  private async serve(stream: any, from: string): Promise<void> {
    // This stream only receives (ours to the peer is another): credit in large steps.
    halfWindowUpdates(stream);
    const lp = this.lpStream(stream, {
      maxDataLength: this.o.maxFrameBytes,
      lengthDecoder: varintLength,
    });
    try {
      for (;;) {
        if (this.closed || this.o.refused(from)) break;
        // Buffered frames resolve without a turn of the event loop: yield every few ms.
        if (performance.now() - this.sliceStart > SLICE_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          this.sliceStart = performance.now();
        }
        const buf = (await lp.read()).subarray();
        if (!this.msgRate.take(from) || !this.byteRate.take(from, buf.byteLength)) {
          this.o.rateLimited(from);
          continue;
        }
        let msg: MeshMessage;
        try {
          msg = decodeFrame(buf);
        } catch (err) {
          this.o.invalid(from, err as Error);
          continue;
        }
        this.o.receive(from, msg);
      }
    } catch (err) {
      const m = (err as Error)?.message ?? '';
      if (/max.*length|too long|exceeds/i.test(m)) this.o.invalid(from, err as Error);
      else this.o.log('mesh stream from %s ended: %s', from, m);
    }
    stream.abort?.(new Error('mesh stream closed'));
  }

  send(to: string, msg: MeshMessage, opts?: { dial?: boolean }): void {
    if (this.closed) return;
    const bytes = encodeFrame(msg);
    this.bytesByKind[msg.kind] = (this.bytesByKind[msg.kind] ?? 0) + bytes.byteLength;
    this.framesByKind[msg.kind] = (this.framesByKind[msg.kind] ?? 0) + 1;
    let o = this.out.get(to);
    if (!o) {
      if (this.out.size >= this.o.maxPeers) return;
      o = { queue: [], dial: [], bytes: 0, writing: false };
      this.out.set(to, o);
    }
    if (o.bytes + bytes.byteLength > this.o.maxQueueBytes) {
      this.sent.dropped++;
      return;
    }
    o.queue.push(bytes);
    o.dial.push(opts?.dial === true);
    o.bytes += bytes.byteLength;
    if (!o.writing) void this.write(to, o);
  }

  private async write(to: string, o: Outbound): Promise<void> {
    o.writing = true;
    try {
      while (o.queue.length && !this.closed) {
        if (!o.lp) {
          const peer = peerIdFromString(to);
          if (!this.node.getConnections(peer).length) {
            // No connection (it went away, or one side shed the link): only a
            // frame allowed to dial opens one; a handshake for anything else
            // (an answer, a flood) would only bring the link back to be shed.
            while (o.queue.length && !o.dial[0]) {
              o.bytes -= o.queue.shift()!.byteLength;
              o.dial.shift();
              this.sent.dropped++;
            }
            if (!o.queue.length) break;
            this.sent.dialed++;
          }
          let stream;
          try {
            await this.learn(to);
            stream = await this.o.gate.dialProtocol(peer, this.o.protocol, 'relay', {
              signal: AbortSignal.timeout(this.o.dialTimeoutMs),
            });
          } catch (err) {
            const m = `${(err as Error)?.name} ${(err as Error)?.message}`;
            // At our bound a relayed probe is not sent (SWIM's helper that
            // cannot help stays silent; the requester has other helpers).
            if (err instanceof ConnectionBoundError) this.o.log('%s', m);
            else if (/protocol selection failed|UnsupportedProtocol/i.test(m)) this.o.foreign(to);
            else if (resetAfterConnect(err)) this.resetSeen(to);
            else this.o.log('mesh stream to %s failed: %s', to, (err as Error)?.message);
            this.sent.dropped += o.queue.length;
            o.queue = [];
            o.dial = [];
            o.bytes = 0;
            break;
          }
          o.stream = stream;
          o.lp = this.lpStream(stream, { maxDataLength: this.o.maxFrameBytes });
        }
        const bytes = o.queue.shift()!;
        o.dial.shift();
        o.bytes -= bytes.byteLength;
        try {
          await o.lp.write(bytes, this.writeOptions);
          this.sent.frames++;
          this.sent.bytes += bytes.byteLength;
        } catch (err) {
          this.o.log('mesh write to %s failed: %s', to, (err as Error)?.message);
          o.stream?.abort?.(err as Error);
          o.stream = undefined;
          o.lp = undefined;
          this.sent.dropped++;
        }
      }
    } finally {
      o.writing = false;
      if (!o.queue.length && !o.lp) this.out.delete(to);
    }
  }

  /** A peer's connection closed: its outbound stream is gone with it. */
  peerGone(id: string): void {
    const o = this.out.get(id);
    if (!o) return;
    o.stream?.abort?.(new Error('connection closed'));
    o.stream = undefined;
    o.lp = undefined;
    if (!o.writing) this.out.delete(id);
  }

  connect(id: string, reason: 'link' | 'probe' = 'link'): void {
    if (this.closed || this.dialing.has(id) || this.o.refused(id)) return;
    this.dialing.add(id);
    void (async () => {
      try {
        const outcome = await this.dialOnce(id, reason);
        if (outcome === 'bound' && reason === 'link') this.o.linkRefused(id);
        else if (outcome === 'reset') this.resetSeen(id);
        else if (outcome === 'refused') this.o.unreachable(id);
      } finally {
        this.dialing.delete(id);
      }
    })();
  }

  /**
   * Dials the member once and says what came of it: connected, refused by
   * our own bound, reset after the TCP connect (see resetAfterConnect), refused
   * at every address (refusedEverywhere), or another failure (logged).
   */
  private async dialOnce(
    id: string,
    reason: 'link' | 'probe',
  ): Promise<'connected' | 'bound' | 'reset' | 'refused' | 'failed'> {
    // For the debug log: the peer store's part and the handshake's (a slow join is a busy dialee).
    const t0 = Date.now();
    let t1 = t0;
    const logDial = (outcome: string) => {
      if (this.o.log.enabled)
        this.o.log(
          'dial %s (%s) %s: learn %d ms, dial %d ms',
          id.slice(-6),
          reason,
          outcome,
          t1 - t0,
          Date.now() - t1,
        );
    };
    try {
      await this.learn(id);
      t1 = Date.now();
      await this.o.gate.dial(peerIdFromString(id), reason, {
        signal: AbortSignal.timeout(this.o.dialTimeoutMs),
      });
      logDial('connected');
      return 'connected';
    } catch (err) {
      logDial(`failed (${(err as Error)?.message})`);
      if (err instanceof ConnectionBoundError) {
        this.o.log('%s', err.message);
        return 'bound';
      }
      if (resetAfterConnect(err)) return 'reset';
      if (refusedEverywhere(err)) return 'refused';
      this.o.log('dial of %s failed: %s', id, (err as Error)?.message);
      return 'failed';
    }
  }

  /**
   * A dial of the member was reset after its TCP connect. A member at its
   * connection bound does that, and so does a process killed while our
   * connect sat in its accept queue. One more dial a moment later tells them
   * apart: the live member answers or resets it again, a dead one's port
   * refuses it (then it is unreachable). Read as life at once, the dying
   * member's reset answered the probes of its lost links, and a crash went
   * unnoticed for good.
   */
  private resetSeen(id: string): void {
    // A reset link dial at a full member (many in a large start) needs no
    // second look unless a probe waits on it.
    if (this.closed || this.rechecking.has(id) || !this.o.awaitsAnswer(id)) return;
    this.rechecking.add(id);
    const recheck = async () => {
      try {
        const outcome = await this.dialOnce(id, 'probe');
        if (this.closed) return;
        if (outcome === 'connected' || outcome === 'reset') this.o.refusedByLive(id);
        else if (outcome === 'refused') this.o.unreachable(id);
      } finally {
        this.rechecking.delete(id);
      }
    };
    setTimeout(() => void recheck(), RESET_RECHECK_MS).unref();
  }

  /** True while the open connections alone fill the bound: see MeshTransport.full. */
  full(): boolean {
    return this.node.getConnections().length >= this.o.gate.max;
  }

  get dialsInFlight(): number {
    return this.dialing.size;
  }

  /** Hangs up once what is queued for the peer (its unlink) is written, or after 1 s. */
  disconnect(id: string): void {
    void (async () => {
      const deadline = Date.now() + 1000;
      for (let o = this.out.get(id); o && (o.queue.length || o.writing) && Date.now() < deadline;)
        await new Promise((r) => setTimeout(r, 10));
      this.peerGone(id);
      await this.node.hangUp(peerIdFromString(id));
    })().catch((err) => this.o.log('hanging up on %s: %s', id, (err as Error)?.message));
  }

  /** Puts a member's record addresses in the peer store, so a dial by peer id finds them. */
  private async learn(id: string): Promise<void> {
    if (this.node.getConnections(peerIdFromString(id)).length) return;
    const addrs = this.o.addrsOf(id).slice(0, 16);
    if (!addrs.length) return;
    try {
      await this.node.peerStore.merge(peerIdFromString(id), {
        multiaddrs: addrs.map((a) => multiaddr(a)),
      });
    } catch (err) {
      this.o.log('bad addresses for %s: %s', id, (err as Error)?.message);
    }
  }
}
