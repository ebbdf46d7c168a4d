/**
 * A discrete-event network for the membership simulation: a virtual clock
 * (a timer heap, no real time passes) and links between simulated members
 * with a fixed one-way latency (one "round"), optional message loss and
 * crashed members. Each message is encoded with the real mesh wire format to
 * count its bytes; the members run the plugin's own Membership code.
 */
import {
  Membership,
  type MeshClock,
  type MembershipEvents,
  type MeshMessage,
  type MeshTransport,
  type MembershipOptions,
  type RecordSigner,
} from '../../../plugins/gossip/membership.js';
import { frameBytes } from './frame-bytes.js';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class SimClock implements MeshClock {
  private t = 0;
  private seq = 0;
  private heap: Timer[] = [];

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.push(timer);
    return timer;
  }

  clearTimeout(h: unknown): void {
    if (h) (h as Timer).cancelled = true;
  }

  /** Runs events until `until` (virtual ms) or until `stop()` returns true (checked after each event). */
  run(until: number, stop?: () => boolean): boolean {
    while (this.heap.length) {
      const top = this.heap[0]!;
      if (top.at > until) break;
      this.pop();
      if (top.cancelled) continue;
      this.t = top.at;
      top.fn();
      if (stop?.()) return true;
    }
    this.t = Math.max(this.t, until);
    return false;
  }

  private less(a: Timer, b: Timer) {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
  private push(x: Timer) {
    const h = this.heap;
    h.push(x);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  private pop() {
    const h = this.heap;
    const last = h.pop()!;
    if (!h.length) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

/**
 * Signatures are not what is simulated (verifying 10^8 Ed25519 signatures would
 * only burn CPU): records carry a fixed 64-byte signature, so byte counts match
 * the real ones, and verification accepts it.
 */
export const SIM_SIGNER: RecordSigner = {
  sign: () => new Uint8Array(64),
  verify: () => true,
};

export interface Traffic {
  messages: number;
  bytes: number;
}

export class SimNetwork {
  readonly clock = new SimClock();
  readonly members = new Map<string, Membership>();
  readonly crashed = new Set<string>();
  readonly sent = new Map<string, Traffic>();
  /** Messages by kind (gossip, digest, entries, pull, ping, ack, ping-req). */
  readonly byKind = new Map<string, number>();
  /** Bytes by kind (when countBytes). */
  readonly bytesByKind = new Map<string, number>();
  /** Probability that a message is lost. */
  loss = 0;
  /** Count bytes by encoding each message (slower). */
  countBytes = true;
  /**
   * A paused member (a starved event loop, a GC pause, SIGSTOP) runs nothing
   * until the given virtual time: its timers and the messages it reads wait.
   */
  readonly pausedUntil = new Map<string, number>();
  /** When each member's current (or last) pause began. */
  readonly pausedFrom = new Map<string, number>();
  /**
   * Connections as the plugin's transport has them (unset: every frame is
   * delivered): a frame reaches a member only over a link, or after a dial
   * of this many ms (a handshake) when the sender allows one (a relayed
   * probe); other frames to members without a link are dropped.
   */
  dialMs?: number;
  /** Frames dropped for want of a connection, and dials made to send one (with dialMs). */
  dropped = 0;
  dialed = 0;
  /** Link dials the members made (their upkeep's connects). */
  connects = 0;
  /** A slow member runs each event (timer or message) up to this many ms late. */
  readonly slowMs = new Map<string, number>();
  /** A member's event-loop utilisation reading (0..1; unset: 0, an idle loop). */
  readonly utilisation = new Map<string, number>();

  constructor(
    readonly latencyMs: number,
    private readonly opts: Partial<MembershipOptions>,
  ) {}

  add(id: string, payload: Uint8Array, events: MembershipEvents = {}): Membership {
    const net = this;
    const transport: MeshTransport = {
      send(to, msg, opts) {
        if (net.dialMs === undefined || net.connected(id, to)) return net.deliver(id, to, msg);
        // No connection: the real transport drops the frame, or dials for it
        // (a handshake, which also makes a link on both sides, as the plugin's
        // connection events do).
        if (!opts?.dial) {
          net.dropped++;
          return;
        }
        net.dialed++;
        net.handshake(id, to, () => net.deliver(id, to, msg));
      },
      connect(to) {
        net.connects++;
        net.handshake(id, to);
      },
      disconnect(to) {
        net.clock.setTimeout(() => net.members.get(to)?.linkDown(id), net.latencyMs);
      },
    };
    const clock: MeshClock = {
      now: () => net.clock.now(),
      setTimeout: (fn, ms) => net.clock.setTimeout(net.gate(id, fn), ms),
      clearTimeout: (h) => net.clock.clearTimeout(h),
      // The member's own view of its stalls: its last pause, and a slow member's lateness.
      lagSince: (t) => {
        let lag = net.slowMs.get(id) ?? 0;
        const from = net.pausedFrom.get(id);
        const until = net.pausedUntil.get(id) ?? 0;
        if (from !== undefined && until >= t)
          lag = Math.max(lag, Math.min(net.clock.now(), until) - from);
        return lag;
      },
      utilisation: () => net.utilisation.get(id) ?? 0,
    };
    const m = new Membership(id, payload, transport, SIM_SIGNER, clock, events, this.opts);
    this.members.set(id, m);
    return m;
  }

  /**
   * A handshake between two members (a dial): it takes `dialMs` (one latency
   * without it) and needs both ends running (it completes once a paused one
   * resumes); then both hold the link, and `then` runs.
   */
  private handshake(id: string, to: string, then?: () => void): void {
    const up = () => {
      const a = this.members.get(id);
      const b = this.members.get(to);
      if (!a || !b || this.crashed.has(to) || this.crashed.has(id)) return;
      b.linkUp(id);
      this.gate(
        id,
        () => {
          if (this.crashed.has(id) || this.crashed.has(to)) return;
          a.linkUp(to);
          then?.();
        },
        true,
      )();
    };
    this.clock.setTimeout(this.gate(to, up, true), this.dialMs ?? this.latencyMs);
  }

  /** A connection between two members: either holds the link. */
  connected(a: string, b: string): boolean {
    return (
      !!this.members.get(a)?.linkIds().includes(b) || !!this.members.get(b)?.linkIds().includes(a)
    );
  }

  private deliver(from: string, to: string, msg: MeshMessage): void {
    let t = this.sent.get(from);
    if (!t) this.sent.set(from, (t = { messages: 0, bytes: 0 }));
    t.messages++;
    this.byKind.set(msg.kind, (this.byKind.get(msg.kind) ?? 0) + 1);
    if (this.countBytes) {
      const b = frameBytes(msg);
      t.bytes += b;
      this.bytesByKind.set(msg.kind, (this.bytesByKind.get(msg.kind) ?? 0) + b);
    }
    if (this.crashed.has(from) || this.crashed.has(to)) return;
    if (this.loss && Math.random() < this.loss) return;
    this.clock.setTimeout(
      this.gate(
        to,
        () => {
          if (this.crashed.has(to)) return;
          this.members.get(to)?.receive(from, msg);
        },
        true,
      ),
      this.latencyMs,
    );
  }

  /**
   * Runs `fn` as member `id` would: after its pause, and late if it is slow.
   * After a pause the member runs its due timers before it reads the messages
   * that arrived meanwhile (`read`), as Node does: the timers phase of the
   * event loop comes before the poll phase.
   */
  gate(id: string, fn: () => void, read = false): () => void {
    const run = () => {
      const until = this.pausedUntil.get(id) ?? 0;
      if (until > this.clock.now())
        this.clock.setTimeout(run, until - this.clock.now() + (read ? 1 : 0));
      else fn();
    };
    return () => {
      const slow = this.slowMs.get(id);
      if (slow) this.clock.setTimeout(run, Math.random() * slow);
      else run();
    };
  }

  /** A member dies at once: it sends nothing more, and its links notice (a reset connection). */
  crash(id: string): void {
    this.crashed.add(id);
    const m = this.members.get(id)!;
    m.stop();
    for (const l of m.linkIds()) this.members.get(l)?.linkDown(id);
  }

  totals(): Traffic {
    let messages = 0;
    let bytes = 0;
    for (const t of this.sent.values()) {
      messages += t.messages;
      bytes += t.bytes;
    }
    return { messages, bytes };
  }

  resetTraffic(): void {
    this.sent.clear();
    this.byKind.clear();
    this.bytesByKind.clear();
  }
}
