/**
 * mDNS peer discovery for the gossip discovery's libp2p node (a libp2p
 * PeerDiscovery), answering queries by unicast.
 *
 * Each agent holds two UDP sockets. Its responder joins the mDNS group on
 * port 5353 and answers questions for the cluster's service tag with its
 * multiaddrs (a PTR record and one `dnsaddr=` TXT record per address). Its
 * querier sends the questions from a port of its own, so the answers come
 * back to it alone (RFC 6762 §6.7, "legacy unicast"). Multicast answers, as
 * libp2p's own mDNS sends them, reach every agent on the LAN: a cluster of N
 * agents starting together parsed about N² answers each, most of its CPU in
 * the first seconds at 32 agents. A query from port 5353 (another mDNS
 * stack) is still answered by multicast, as RFC 6762 says.
 *
 * An agent that is busy (its node at its connection bound, or taking
 * joiners' handshakes: `busy`) does not answer: in a cluster start every
 * joiner heard the few agents up first, dialed them, and was reset at their
 * bound, while agents with room went unheard.
 *
 * A cluster start asks every agent every other's question within a second
 * or two, so what an answer costs is kept small on both ends: the answer
 * is built once a second at most (libp2p's address manager reads the
 * network interfaces and checks netmasks on every call, and so did the
 * on-link check of the asker's address: half the CPU of the mDNS code in a
 * start of 32), and an asker reads only the answers it has not heard
 * lately (the filter sees the raw TXT strings, before any multiaddr or
 * peer id is parsed). The answers go straight to the discovery (`heard`),
 * not through libp2p, whose peer-store write per answer cost more than the
 * rest together: the discovery's dial puts a peer's addresses there itself.
 *
 * Early agents learn of later ones from the mesh (a newcomer dials the peers
 * that answered it), and the querier asks again 1, 2 and 4 s after the
 * first question before settling to `intervalMs`, so an agent that started
 * alone finds the others that came after it.
 */
import { randomBytes } from 'node:crypto';
import type { RemoteInfo } from 'node:dgram';
import { networkInterfaces } from 'node:os';

import { peerDiscoverySymbol, type PeerInfo } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import type { Answer, Packet } from 'dns-packet';
import makeMdns from 'multicast-dns';

import { OncePerPeer } from './once-per-peer.js';

const MDNS_GROUP = '224.0.0.251';
const MDNS_PORT = 5353;
/** Addresses announced and accepted per agent (a TXT record each). */
const MAX_ADDRS = 16;
/** The longest TXT string a record may hold. */
const MAX_TXT_BYTES = 255;
/** Seconds an answer is valid: RFC 6762 caps legacy unicast answers at 10 s. */
const ANSWER_TTL_S = 10;
/** Instances read from one answer: a packet full of them costs a bounded parse. */
const MAX_INSTANCES_PER_ANSWER = 16;
/**
 * How long a built answer is reused: a cluster start asks each agent tens
 * of questions a second, and an address change waits at most this long.
 */
const ANSWER_REUSE_MS = 1000;
/** Gaps between the first questions, then `intervalMs`. */
const FIRST_GAPS_MS = [1000, 2000, 4000];

/** What the discovery needs of the libp2p node's components. */
export interface LanComponents {
  peerId: { toString(): string };
  addressManager: { getAddresses(): Multiaddr[] };
}

export interface LanDiscoveryOptions {
  serviceTag: string;
  intervalMs: number;
  /** Peers remembered by the answer filter (bounded memory). */
  maxPeers?: number;
  /** True while this agent should not be dialed by more peers: it answers no question then. */
  busy?: () => boolean;
  /**
   * Where the peers heard go. Without it each is dispatched as a `peer`
   * event, which libp2p writes into its peer store.
   */
  heard?: (peer: PeerInfo) => void;
}

export class LanDiscovery extends EventTarget {
  readonly [peerDiscoverySymbol] = this;
  readonly [Symbol.toStringTag] = 'nixl-ts mdns';
  readonly #listeners = new Map<string, number>();
  readonly #filter: OncePerPeer;
  /** This agent's instance name under the service tag. */
  /** This agent's mDNS instance name (a random label under the service tag). */
  readonly #name: string;
  #responder?: makeMdns.MulticastDNS;
  #querier?: makeMdns.MulticastDNS;
  #timer?: ReturnType<typeof setTimeout>;
  /** The answers last built, and when (see ANSWER_REUSE_MS). */
  #built?: { answers: Answer[]; at: number };

  constructor(
    private readonly components: LanComponents,
    private readonly opts: LanDiscoveryOptions,
  ) {
    super();
    this.#name = `${randomBytes(16).toString('hex')}.${opts.serviceTag}`;
    // Half the period: the answers to each periodic question pass again.
    this.#filter = new OncePerPeer(opts.intervalMs / 2, opts.maxPeers ?? 1024);
  }

  /** TypedEventTarget's count (libp2p's peer-discovery type asks for it). */
  listenerCount(type: string): number {
    return this.#listeners.get(type) ?? 0;
  }

  override addEventListener(...args: Parameters<EventTarget['addEventListener']>): void {
    this.#listeners.set(args[0], this.listenerCount(args[0]) + 1);
    super.addEventListener(...args);
  }

  override removeEventListener(...args: Parameters<EventTarget['removeEventListener']>): void {
    this.#listeners.set(args[0], Math.max(0, this.listenerCount(args[0]) - 1));
    super.removeEventListener(...args);
  }

  safeDispatchEvent<T>(type: string, init?: { detail?: T }): boolean {
    return this.dispatchEvent(new CustomEvent(type, init));
  }

  start(): void {
    if (this.#responder) return;
    this.#responder = makeMdns({ port: MDNS_PORT, ip: MDNS_GROUP });
    this.#responder.on('query', (q, rinfo) => this.#onQuery(q, rinfo));
    // The querier joins no group: only the unicast answers to its questions reach it.
    this.#querier = makeMdns({ port: 0, multicast: false });
    this.#querier.on('response', (r) => this.#onResponse(r));
    for (const m of [this.#responder, this.#querier]) m.on('warning', () => {});
    this.#ask(0);
  }

  async stop(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const sockets = [this.#responder, this.#querier];
    this.#responder = this.#querier = undefined;
    await Promise.all(
      sockets.map(
        (m) => new Promise<void>((resolve) => (m ? m.destroy(() => resolve()) : resolve())),
      ),
    );
  }

  /** Sends the question now, then again after the next gap. */
  #ask(round: number): void {
    const q = this.#querier;
    if (!q) return;
    q.query(
      { questions: [{ name: this.opts.serviceTag, type: 'PTR' }] },
      { port: MDNS_PORT, address: MDNS_GROUP },
    );
    const gap = FIRST_GAPS_MS[round] ?? this.opts.intervalMs;
    this.#timer = setTimeout(() => this.#ask(round + 1), Math.min(gap, this.opts.intervalMs));
    this.#timer.unref();
  }

  #onQuery(query: Packet, rinfo: RemoteInfo): void {
    const asked = query.questions?.some(
      (q) => q.name === this.opts.serviceTag && (q.type === 'PTR' || (q.type as string) === 'ANY'),
    );
    if (!asked || !this.#responder) return;
    if (this.opts.busy?.()) return;
    const answers = this.#answersNow();
    if (answers.length < 2) return;
    if (rinfo.port === MDNS_PORT) {
      this.#responder.respond({ answers });
    } else if (onLocalLink(rinfo.address)) {
      // Legacy unicast: to the asker's own port, with its id and question.
      // Only to an address on one of our links: an answer is larger than the
      // question, and a forged source must not turn us into a reflector.
      this.#responder.respond(
        { id: query.id, questions: query.questions, answers },
        { port: rinfo.port, address: rinfo.address },
      );
    }
  }

  #answersNow(): Answer[] {
    const now = Date.now();
    if (!this.#built || now - this.#built.at >= ANSWER_REUSE_MS)
      this.#built = { answers: this.#answers(), at: now };
    return this.#built.answers;
  }

  #answers(): Answer[] {
    const name = this.#name;
    const answers: Answer[] = [
      { name: this.opts.serviceTag, type: 'PTR', class: 'IN', ttl: ANSWER_TTL_S, data: name },
    ];
    for (const addr of this.components.addressManager.getAddresses().slice(0, MAX_ADDRS)) {
      const data = `dnsaddr=${addr.toString()}`;
      if (data.length > MAX_TXT_BYTES) continue;
      answers.push({ name, type: 'TXT', class: 'IN', ttl: ANSWER_TTL_S, data });
    }
    return answers;
  }

  #onResponse(response: Packet): void {
    const records = [...(response.answers ?? []), ...(response.additionals ?? [])];
    const instances = new Set<string>();
    for (const r of records) {
      if (r.type === 'PTR' && r.name === this.opts.serviceTag) instances.add(String(r.data));
      if (instances.size >= MAX_INSTANCES_PER_ANSWER) break;
    }
    for (const instance of instances) {
      // Our own responder answers our question too.
      if (instance === this.#name) continue;
      // An answer heard lately is dropped before anything in it is parsed.
      const strings = txtStrings(instance, records);
      if (!this.#filter.pass(instance, strings)) continue;
      const peer = peerOf(strings);
      if (!peer || peer.id.toString() === this.components.peerId.toString()) continue;
      if (this.opts.heard) this.opts.heard(peer);
      else this.safeDispatchEvent('peer', { detail: peer });
    }
  }
}

/** The TXT strings of an instance's records, as they came. */
function txtStrings(instance: string, records: Answer[]): string[] {
  const out: string[] = [];
  for (const r of records) {
    if (r.type !== 'TXT' || r.name !== instance) continue;
    for (const d of Array.isArray(r.data) ? r.data : [r.data]) {
      if (out.length >= MAX_ADDRS) return out;
      out.push(String(d));
    }
  }
  return out;
}

/**
 * The peer an instance's TXT strings (txtStrings: at most MAX_ADDRS)
 * describe: every `dnsaddr=` multiaddr must end in the same /p2p/ id;
 * undefined if none parses.
 */
function peerOf(strings: readonly string[]): PeerInfo | undefined {
  let id: string | undefined;
  const multiaddrs: Multiaddr[] = [];
  for (const s of strings) {
    if (!s.startsWith('dnsaddr=')) continue;
    try {
      const ma = multiaddr(s.slice('dnsaddr='.length));
      const p2p = ma.getComponents().findLast((c) => c.name === 'p2p')?.value;
      if (!p2p || (id !== undefined && p2p !== id)) return undefined;
      id = p2p;
      multiaddrs.push(ma);
    } catch {
      return undefined;
    }
  }
  if (id === undefined) return undefined;
  try {
    return { id: peerIdFromString(id), multiaddrs };
  } catch {
    return undefined;
  }
}

/** How long the interfaces' subnets are reused for onLocalLink (read with a syscall). */
const SUBNETS_REUSE_MS = 1000;
/** This process's IPv4 subnets (address, mask), and when they were read. */
let subnets: { list: [number, number][]; at: number } | undefined;

/** True when `address` (IPv4) is in the subnet of one of this host's interfaces. */
export function onLocalLink(address: string): boolean {
  const ip = ipv4ToInt(address);
  if (ip === undefined) return false;
  const now = Date.now();
  if (!subnets || now - subnets.at >= SUBNETS_REUSE_MS) subnets = { list: ipv4Subnets(), at: now };
  return subnets.list.some(([own, mask]) => ((own ^ ip) & mask) === 0);
}

function ipv4Subnets(): [number, number][] {
  const list: [number, number][] = [];
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4') continue;
      const own = ipv4ToInt(a.address);
      const mask = ipv4ToInt(a.netmask);
      if (own !== undefined && mask !== undefined) list.push([own, mask]);
    }
  }
  return list;
}

function ipv4ToInt(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    const b = Number(p);
    if (!Number.isInteger(b) || b < 0 || b > 255) return undefined;
    n = (n << 8) | b;
  }
  return n;
}
